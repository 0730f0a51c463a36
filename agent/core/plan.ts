// Diff one map: what must change so HAProxy's entries equal the desired ones, and whether the guard holds it back.
// Pure. Keys are compared exactly; routes.ts normalises them before they get here.

import { byteOrder } from './order.js';
import type { Entry, MapName } from './types.js';

export type Change = { readonly key: string; readonly from: string; readonly to: string };
export type MapPlan = {
  readonly map: MapName;
  readonly add: readonly Entry[];
  readonly change: readonly Change[];
  readonly remove: readonly Entry[];
};

// desired | current | result
// be_a    | —       | add
// be_b    | be_a    | change
// —       | be_a    | remove
/** The plan that turns `current` into `desired` for one map. */
export function planMap(map: MapName, current: readonly Entry[], desired: readonly Entry[]): MapPlan {
  return planSorted(map, current, desired) ?? planIndexed(map, current, desired);
}

// Both lists strictly ascending by key (the usual case: HAProxy lists a map in the order routeagent loaded it, sorted,
// and mergeDesired sorts): one walk side by side, with no index of either. undefined as soon as either list is not.
// This runs every sync over every entry (50,000 in the scale bench): no per-entry temporaries when nothing changes.
function planSorted(map: MapName, current: readonly Entry[], desired: readonly Entry[]): MapPlan | undefined {
  const add: Entry[] = [];
  const change: Change[] = [];
  const remove: Entry[] = [];
  let i = 0;
  let j = 0;
  while (i < current.length || j < desired.length) {
    const c = current[i];
    const d = desired[j];
    const order = c === undefined ? 1 : d === undefined ? -1 : byteOrder(c.key, d.key);
    if (order <= 0 && !ascendsAt(current, i)) return undefined;
    if (order >= 0 && !ascendsAt(desired, j)) return undefined;
    if (order < 0) remove.push(current[i++]!);
    else if (order > 0) add.push(desired[j++]!);
    else {
      if (c!.backend !== d!.backend) change.push({ key: d!.key, from: c!.backend, to: d!.backend });
      i++;
      j++;
    }
  }
  return { map, add, change, remove };
}

/** Is xs[i]'s key strictly below the next one's (or the last)? */
function ascendsAt(xs: readonly Entry[], i: number): boolean {
  const next = xs[i + 1];
  return next === undefined || byteOrder(xs[i]!.key, next.key) < 0;
}

// Any order, duplicate keys included (of a key listed twice live, the last entry is the one compared).
function planIndexed(map: MapName, current: readonly Entry[], desired: readonly Entry[]): MapPlan {
  const live = new Map<string, string>();
  for (const e of current) live.set(e.key, e.backend);
  const want = new Set<string>();
  for (const e of desired) want.add(e.key);
  const add: Entry[] = [];
  const change: Change[] = [];
  for (const e of desired) {
    const from = live.get(e.key);
    if (from === undefined) add.push(e);
    else if (from !== e.backend) change.push({ key: e.key, from, to: e.backend });
  }
  const remove: Entry[] = [];
  for (const [key, backend] of live) if (!want.has(key)) remove.push({ key, backend });
  return { map, add: byKey(add), change: byKey(change), remove: byKey(remove) };
}

export function isEmptyPlan(p: MapPlan): boolean {
  return p.add.length === 0 && p.change.length === 0 && p.remove.length === 0;
}

/** `hosts +2 ~1 -0` */
export function summarisePlan(p: MapPlan): string {
  return `${p.map} +${p.add.length} ~${p.change.length} -${p.remove.length}`;
}

/** Removals below this count never trip the guard: deleting a couple of apps is ordinary. */
export const GUARD_MIN_REMOVALS = 3;

/** Why the guard holds this plan back, or undefined when it may be applied. */
export function guardReason(p: MapPlan, currentCount: number, maxRemovalRatio: number): string | undefined {
  const removed = p.remove.length;
  if (removed <= GUARD_MIN_REMOVALS || removed <= maxRemovalRatio * currentCount) return undefined;
  return `${p.map}: plan removes ${removed} of ${currentCount} entries (more than ${Math.round(maxRemovalRatio * 100)}%)`;
}

function byKey<T extends { readonly key: string }>(xs: T[]): T[] {
  return xs.sort((a, b) => byteOrder(a.key, b.key));
}
