// The gateway's HTTP API (docs/api.md). Same origin: the session cookie does the authentication.

export interface User {
  id: string;
  email: string;
}

export interface DocumentSummary {
  id: string;
  title: string;
  source_url: string | null;
  block_count: number;
  char_count: number;
  /** Detected from the text (ISO 639-1, e.g. "es"); null when the gateway could not tell. */
  language?: string | null;
  created_at: string;
}

export interface Block {
  idx: number;
  kind: string;
  html: string;
  text: string;
  speakable: boolean;
  group: number;
}

export interface DocumentDetail extends DocumentSummary {
  blocks: Block[];
}

export interface VoiceInfo {
  slug: string;
  name: string;
  lang: string;
  /** False when no running worker serves the voice; absent from gateways that predate it. */
  available?: boolean;
}

export interface ModelInfo {
  slug: string;
  name: string;
  sample_rate: number;
  /** The voice to use until the listener picks one (absent from older gateways). */
  default_voice?: string | null;
  available?: boolean;
  voices: VoiceInfo[];
}

/** A word of the user's pronunciation lexicon and what the voices say instead. */
export interface Pronunciation {
  word: string;
  say: string;
}

export interface Version {
  version: string;
  commit: string;
  built_at: string;
}

/** An error the API answered with; `message` is written for people. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let payload: unknown = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: a proxy's error page, say
  }
  if (!response.ok) {
    const error = (payload as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(
      response.status,
      error?.code ?? 'http_' + response.status,
      error?.message ?? `The server answered ${response.status} ${response.statusText}.`.trim(),
    );
  }
  return payload as T;
}

/** Speech for a short text (`POST /v1/audio/speech`), as a WAV blob; cached by the server like
 *  any passage, so a voice's preview is synthesized once. */
async function speech(model: string, voice: string, input: string): Promise<Blob> {
  let response: Response;
  try {
    response = await fetch('/v1/audio/speech', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, voice, input }),
    });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
  }
  if (!response.ok) {
    const payload = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
    throw new ApiError(
      response.status,
      payload?.error?.code ?? 'http_' + response.status,
      payload?.error?.message ?? `The server answered ${response.status}.`,
    );
  }
  return response.blob();
}

export const api = {
  speech,
  me: () => request<{ user: User }>('GET', '/v1/me'),
  signUp: (email: string, password: string) =>
    request<{ user: User; token: string }>('POST', '/v1/auth/sign-up', { email, password }),
  signIn: (email: string, password: string) =>
    request<{ user: User; token: string }>('POST', '/v1/auth/sign-in', { email, password }),
  signOut: () => request<void>('POST', '/v1/auth/sign-out'),
  documents: (limit = 50, offset = 0) =>
    request<{ documents: DocumentSummary[]; next_offset: number | null }>(
      'GET',
      `/v1/documents?limit=${limit}&offset=${offset}`,
    ),
  document: (id: string) => request<DocumentDetail>('GET', `/v1/documents/${encodeURIComponent(id)}`),
  createDocument: (source: { text: string } | { url: string }, title?: string) =>
    request<DocumentSummary>('POST', '/v1/documents', title ? { ...source, title } : source),
  deleteDocument: (id: string) => request<void>('DELETE', `/v1/documents/${encodeURIComponent(id)}`),
  models: () => request<{ models: ModelInfo[] }>('GET', '/v1/models'),
  pronunciations: () => request<{ pronunciations: Pronunciation[] }>('GET', '/v1/pronunciations'),
  setPronunciation: (word: string, say: string) =>
    request<Pronunciation>('PUT', `/v1/pronunciations/${encodeURIComponent(word)}`, { say }),
  deletePronunciation: (word: string) =>
    request<void>('DELETE', `/v1/pronunciations/${encodeURIComponent(word)}`),
  version: () => request<Version>('GET', '/api/version'),
};
