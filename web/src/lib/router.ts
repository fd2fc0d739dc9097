// Client-side routes on real paths (the gateway answers index.html for any unknown non-API path).

import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { name: 'library' }
  | { name: 'player'; documentId: string }
  | { name: 'sign-in' }
  | { name: 'sign-up' }
  | { name: 'not-found' };

export function parseRoute(path: string): Route {
  if (path === '/' || path === '') return { name: 'library' };
  if (path === '/sign-in') return { name: 'sign-in' };
  if (path === '/sign-up') return { name: 'sign-up' };
  const player = /^\/d\/([^/]+)\/?$/.exec(path);
  if (player) return { name: 'player', documentId: decodeURIComponent(player[1]) };
  return { name: 'not-found' };
}

const listeners = new Set<() => void>();

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.scrollTo(0, 0);
  listeners.forEach((listener) => listener());
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname));
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

/** A plain link that navigates without a page load (modified clicks open a tab as usual). */
export function onLinkClick(event: MouseEvent): void {
  const anchor = event.currentTarget as HTMLAnchorElement;
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(anchor.getAttribute('href') ?? '/');
}
