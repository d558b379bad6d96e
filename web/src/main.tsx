import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app/App";
import { loadConfig } from "./app/config";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);
loadConfig()
  .then((config) =>
    root.render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    ),
  )
  .catch(() =>
    root.render(
      <main className="login">
        <p role="alert" className="error">
          The dashboard could not read its configuration (config.json). Reload the page; if this goes on, the
          server is not set up for the dashboard.
        </p>
      </main>,
    ),
  );
