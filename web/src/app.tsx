import { useCallback, useEffect, useState } from 'preact/hooks';

import { ApiError, api, type User } from './api/client';
import { navigate, onLinkClick, useRoute } from './lib/router';
import { useNewVersionAvailable } from './lib/version';
import { AuthForm } from './views/AuthForm';
import { Library } from './views/Library';
import { Player } from './views/Player';

/** The user single-user mode signs everyone in as (AUTH_ENABLED=false on the gateway). */
const LOCAL_USER_EMAIL = 'local@yapit.invalid';

type Session = { state: 'loading' } | { state: 'signed-out' } | { state: 'signed-in'; user: User } | { state: 'failed'; message: string };

export function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session>({ state: 'loading' });
  const newVersion = useNewVersionAvailable();

  const loadSession = useCallback(async () => {
    try {
      const { user } = await api.me();
      setSession({ state: 'signed-in', user });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) setSession({ state: 'signed-out' });
      else setSession({ state: 'failed', message: error instanceof Error ? error.message : String(error) });
    }
  }, []);

  useEffect(() => {
    void loadSession();
  }, [loadSession]);

  // Signed out: the auth screens; signed in: never the auth screens.
  useEffect(() => {
    if (session.state === 'signed-out' && route.name !== 'sign-in' && route.name !== 'sign-up') {
      navigate('/sign-in', { replace: true });
    } else if (session.state === 'signed-in' && (route.name === 'sign-in' || route.name === 'sign-up')) {
      navigate('/', { replace: true });
    }
  }, [session, route.name]);

  const signedIn = (user: User) => {
    setSession({ state: 'signed-in', user });
    navigate('/', { replace: true });
  };

  const signOut = async () => {
    try {
      await api.signOut();
    } finally {
      setSession({ state: 'signed-out' });
    }
  };

  const sessionExpired = useCallback(() => setSession({ state: 'signed-out' }), []);

  let main;
  if (session.state === 'loading') {
    main = <p class="muted center" role="status">Loading…</p>;
  } else if (session.state === 'failed') {
    main = (
      <div class="panel" role="alert">
        <p>{session.message}</p>
        <button type="button" onClick={() => void loadSession()}>Try again</button>
      </div>
    );
  } else if (session.state === 'signed-out') {
    main = route.name === 'sign-up' ? <AuthForm mode="sign-up" onDone={signedIn} /> : <AuthForm mode="sign-in" onDone={signedIn} />;
  } else if (route.name === 'player') {
    main = <Player key={route.documentId} documentId={route.documentId} onUnauthorized={sessionExpired} />;
  } else if (route.name === 'library') {
    main = <Library onUnauthorized={sessionExpired} />;
  } else {
    main = (
      <div class="panel">
        <h1>Page not found</h1>
        <p><a href="/" onClick={onLinkClick}>Back to your library</a></p>
      </div>
    );
  }

  const user = session.state === 'signed-in' ? session.user : null;
  return (
    <>
      <a class="skip-link" href="#main">Skip to content</a>
      <header class="site-header">
        <a class="brand" href="/" onClick={onLinkClick} aria-label="yapit, your library">yapit</a>
        {user && user.email !== LOCAL_USER_EMAIL && (
          <div class="account">
            <span class="muted email" title={user.email}>{user.email}</span>
            <button type="button" class="link-button" onClick={() => void signOut()}>Sign out</button>
          </div>
        )}
      </header>
      {newVersion && (
        <div class="banner" role="status">
          A new version of yapit is available.{' '}
          <button type="button" onClick={() => location.reload()}>Reload</button>
        </div>
      )}
      <main id="main" tabIndex={-1}>{main}</main>
    </>
  );
}
