/**
 * The policy's level order, lowest first (discovery's `acr_values_supported`, SPEC §2.11): a higher
 * level satisfies a lower one. An acr outside the order satisfies nothing.
 */
export function satisfiesAcr(order: readonly string[], held: string | undefined, required: string): boolean {
  const need = order.indexOf(required);
  if (need < 0) throw new RangeError(`acr ${required} is not one of the authorization server's levels (${order.join(', ')})`);
  const have = held === undefined ? -1 : order.indexOf(held);
  return have >= need;
}
