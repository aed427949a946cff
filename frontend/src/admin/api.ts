/** Typed calls to the gateway for the operator page; admin calls carry the bearer token. */
import type { CanaryRequest, HistoryEntry, ModelHistory, ModelStats, ModelsResponse, PromoteRequest, ReleaseChange, RollbackRequest, FinetuneRequestBody, Job, JobList, ModelCard } from '@nst/contracts';
import { ApiError, errorFromBody, type ModelInfo } from '../api.ts';
import { session } from './token.ts';

export { ApiError, type ModelInfo };
export type { HistoryEntry, ModelStats, VersionStats } from '@nst/contracts';

async function request<T>(url: string, init: RequestInit = {}, admin = false): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  if (admin) {
    const token = session.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    headers['X-Actor'] = session.actor();
  }
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers: { ...headers, ...(init.headers as Record<string, string> | undefined) } });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError('Could not reach the server. Check your connection and try again.', 0);
  }
  const text = await res.text();
  if (!res.ok) throw errorFromBody(res.status, text);
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError('The server sent a response the page could not read.', res.status);
  }
}

const enc = encodeURIComponent;
const post = <B>(body: B): RequestInit => ({ method: 'POST', body: JSON.stringify(body) });

export async function listModels(): Promise<ModelInfo[]> {
  return (await request<ModelsResponse>('/api/models')).models;
}

export function modelStats(model: string): Promise<ModelStats> {
  return request<ModelStats>(`/api/models/${enc(model)}/stats`);
}

export async function modelHistory(model: string): Promise<HistoryEntry[]> {
  return (await request<ModelHistory>(`/api/models/${enc(model)}/history`)).history;
}

export function modelCard(model: string, version: string): Promise<ModelCard> {
  return request<ModelCard>(`/api/models/${enc(model)}/versions/${enc(version)}`);
}

/** Checks the token with a harmless admin call (a 401 throws; any other answer means the token is good). */
export async function checkToken(): Promise<void> {
  try {
    await request<unknown>('/api/admin/jobs', {}, true);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) throw err;
  }
}

export function setCanary(model: string, version: string | undefined, percent: number, reason?: string): Promise<ReleaseChange> {
  return request(`/api/admin/models/${enc(model)}/canary`, post<CanaryRequest>({ version, percent, ...(reason ? { reason } : {}) }), true);
}

export function promote(model: string, reason?: string): Promise<ReleaseChange> {
  return request(`/api/admin/models/${enc(model)}/promote`, post<PromoteRequest>(reason ? { reason } : {}), true);
}

export function rollback(model: string, version?: string, reason?: string): Promise<ReleaseChange> {
  return request(`/api/admin/models/${enc(model)}/rollback`, post<RollbackRequest>({ ...(version ? { version } : {}), ...(reason ? { reason } : {}) }), true);
}

export async function listJobs(): Promise<Job[]> {
  return (await request<JobList>('/api/admin/jobs', {}, true)).jobs;
}

export function cancelJob(id: string): Promise<unknown> {
  return request(`/api/admin/jobs/${enc(id)}`, { method: 'DELETE' }, true);
}

export function retryJob(id: string): Promise<Job> {
  return request<Job>(`/api/admin/jobs/${enc(id)}/retry`, { method: 'POST' }, true);
}

export function startFinetune(req: FinetuneRequestBody): Promise<Job> {
  return request<Job>('/api/admin/finetune', post(req), true);
}
