/**
 * Copies a request for logging with every secret removed. In CSI v1.12.0 every field marked
 * (csi_secret) is named `secrets` (a test checks this against the proto), so any `secrets` or
 * `*_secrets` map anywhere in the message is replaced by its key names. Kubelet also passes
 * service account tokens in volume_context when a CSIDriver asks for them; those go too.
 */
const TOKEN_KEY = 'csi.storage.k8s.io/serviceAccount.tokens';

export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k === 'secrets' || k.endsWith('_secrets')) {
      const keys = v && typeof v === 'object' ? Object.keys(v) : [];
      if (keys.length > 0) out[k] = Object.fromEntries(keys.map((key) => [key, '<redacted>']));
    } else if (k === TOKEN_KEY) out[k] = '<redacted>';
    else out[k] = redactSecrets(v);
  }
  return out;
}
