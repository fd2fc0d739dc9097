import { useState } from 'preact/hooks';

import { ApiError, api, type User } from '../api/client';
import { onLinkClick } from '../lib/router';

export function AuthForm({ mode, onDone }: { mode: 'sign-in' | 'sign-up'; onDone: (user: User) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const signUp = mode === 'sign-up';

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { user } = signUp ? await api.signUp(email.trim(), password) : await api.signIn(email.trim(), password);
      onDone(user);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : 'Something went wrong. Try again.');
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel auth" onSubmit={submit} aria-labelledby="auth-title">
      <h1 id="auth-title">{signUp ? 'Create your account' : 'Sign in'}</h1>
      <label>
        E-mail
        <input type="email" name="email" autocomplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      </label>
      <label>
        Password
        <input
          type="password"
          name="password"
          autocomplete={signUp ? 'new-password' : 'current-password'}
          required
          minLength={signUp ? 8 : undefined}
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
          aria-describedby={signUp ? 'password-hint' : undefined}
        />
      </label>
      {signUp && <p id="password-hint" class="muted small">At least 8 characters.</p>}
      {error && <p class="error" role="alert">{error}</p>}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'One moment…' : signUp ? 'Create account' : 'Sign in'}
      </button>
      <p class="muted">
        {signUp ? (
          <>Have an account? <a href="/sign-in" onClick={onLinkClick}>Sign in</a></>
        ) : (
          <>New here? <a href="/sign-up" onClick={onLinkClick}>Create an account</a></>
        )}
      </p>
    </form>
  );
}
