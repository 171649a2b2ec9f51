/** Bytes of a Kubernetes resource.Quantity as the provisioner writes it ("1002Mi", "1050673152", "1G", "1.5Gi"). */
const SUFFIX: Record<string, number> = {
  '': 1,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  m: 1e-3,
};

export function parseQuantity(q: string): number {
  const m = /^([+-]?[0-9]+(?:\.[0-9]*)?|[+-]?\.[0-9]+)(?:[eE]([+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?)$/.exec(q.trim());
  if (!m) throw new Error(`not a quantity: "${q}"`);
  const base = Number(m[1]);
  if (m[2] !== undefined) return Math.round(base * 10 ** Number(m[2]));
  return Math.round(base * SUFFIX[m[3] ?? '']!);
}
