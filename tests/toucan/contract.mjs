// The Toucan 3.0 embed JWT contract as code (docs/toucan.md), shared by the
// stand-in and by tests that check what the daemon mints.

/** "about 3.5 KB" (secondary source): serialized embed_context must be below this. */
export const EMBED_CONTEXT_MAX = 3584;
export const EMBED_SUB = 'toucan-embed-client';

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Check an embed_context against the documented shape
 * {username, workspace_id, roles: ["USER"|"ADMIN"], privileges: {}, groups: [], attributes: {}}.
 * tenantCfg.workspace_id, when set, must match. Returns null or a message.
 */
export function checkEmbedContext(ec, tenantCfg = {}) {
  if (!isObj(ec)) return 'embed_context must be an object';
  const size = Buffer.byteLength(JSON.stringify(ec));
  if (size >= EMBED_CONTEXT_MAX) return `embed_context is ${size} bytes, limit ${EMBED_CONTEXT_MAX}`;
  const allowed = new Set(['username', 'workspace_id', 'roles', 'privileges', 'groups', 'attributes']);
  for (const k of Object.keys(ec)) if (!allowed.has(k)) return `embed_context.${k} is not a known member`;
  if (typeof ec.username !== 'string' || !ec.username) return 'embed_context.username must be a non-empty string';
  if (typeof ec.workspace_id !== 'string' || !ec.workspace_id) return 'embed_context.workspace_id must be a non-empty string';
  if (tenantCfg.workspace_id && ec.workspace_id !== tenantCfg.workspace_id) return 'embed_context.workspace_id is not this tenant\'s workspace';
  if (!Array.isArray(ec.roles) || ec.roles.length === 0 || !ec.roles.every((r) => r === 'USER' || r === 'ADMIN')) {
    return 'embed_context.roles must be a non-empty array of "USER" / "ADMIN"';
  }
  if (ec.privileges !== undefined && !isObj(ec.privileges)) return 'embed_context.privileges must be an object';
  if (ec.groups !== undefined && (!Array.isArray(ec.groups) || !ec.groups.every((g) => typeof g === 'string'))) {
    return 'embed_context.groups must be an array of strings';
  }
  if (ec.attributes !== undefined && !isObj(ec.attributes)) return 'embed_context.attributes must be an object';
  return null;
}
