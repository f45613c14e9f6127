/* jti values for embed JWTs: 128 bits of CSPRNG output each, drawn from a
 * per-client pool (tsso_rand_pool, src/util/crypto.c: one RAND_bytes call
 * serves 255 values; emptied in a forked child). Per client rather than the
 * process's pool, so that token minting does not contend with the rest. */
#include "embed_int.h"
#include "tsso/crypto.h"

struct tsso_embed_jti *tsso_embed_jti_new(void)
{
	return (struct tsso_embed_jti *)tsso_rand_pool_new();
}

void tsso_embed_jti_free(struct tsso_embed_jti *j)
{
	tsso_rand_pool_free((struct tsso_rand_pool *)j);
}

int tsso_embed_jti_draw(struct tsso_embed_jti *j, unsigned char out[TSSO_EMBED_JTI_BYTES])
{
	return tsso_rand_pool_draw((struct tsso_rand_pool *)j, out, TSSO_EMBED_JTI_BYTES);
}
