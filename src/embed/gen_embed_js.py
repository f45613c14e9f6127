#!/usr/bin/env python3
"""Compile embed.js into a C source (a byte array, since string literals over
4095 bytes are not portable C17) with its strong ETag (SHA-256 prefix)."""
import hashlib
import sys


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    data = open(src, "rb").read()
    data.decode("ascii")  # the script is plain ASCII: no encoding surprises
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    lines = [
        "/* Generated from src/embed/embed.js by gen_embed_js.py: do not edit. */",
        "#include <stddef.h>",
        "",
        '#include "tsso/embed.h"',
        "",
        "static const char embed_js[] = {",
    ]
    for i in range(0, len(data), 16):
        lines.append("\t" + ", ".join("0x%02x" % b for b in data[i:i + 16]) + ",")
    lines += [
        "\t0x00,",
        "};",
        "",
        "const char *tsso_embed_js(size_t *ret_len)",
        "{",
        "\tif (ret_len != NULL)",
        "\t\t*ret_len = sizeof(embed_js) - 1;",
        "\treturn embed_js;",
        "}",
        "",
        "const char *tsso_embed_js_etag(void)",
        "{",
        '\treturn "%s";' % etag.replace('"', '\\"'),
        "}",
        "",
    ]
    with open(out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
