/**
 * A model's routing policy: an optional candidate version taking a share of traffic (canary),
 * and the entries of its release history (both shapes in @nst/contracts). Kept by the platform
 * store (store/), changed only by the release owner (release.ts).
 */
import type { RoutingPolicy } from '@nst/contracts';

export { routingPolicySchema, type HistoryEntry, type RoutingPolicy } from '@nst/contracts';

export const NO_CANARY: RoutingPolicy = { candidate: null, percent: 0, updated_at: new Date(0).toISOString(), updated_by: 'default' };
