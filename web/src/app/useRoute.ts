// Hash routing (`#/trades`): the page works from any static host (S3 and CloudFront, or the local stack)
// with no server-side fallback.
import { useEffect, useState } from "react";

function current(): string {
  return window.location.hash.replace(/^#\/?/, "").split("?")[0];
}

export function useRoute(): [string, (route: string) => void] {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const onChange = () => setRoute(current());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return [route, (next) => (window.location.hash = `#/${next}`)];
}
