/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev` serves the page with hot reload on :5173 and sends the API (and config.json) to the
// local stack, so that the page and the API share one origin as under `make run`.
const stack = process.env.ALPHAPULSE_STACK_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/api": stack,
      "/config.json": stack,
    },
  },
  build: {
    manifest: true, // read by scripts/bundle-size.mjs to find the initial JavaScript
    sourcemap: false,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test/setup.ts"],
  },
});
