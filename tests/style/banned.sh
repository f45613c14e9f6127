#!/bin/sh
# Fails when src/ uses a function the house style bans: unbounded string
# writers, tokenizers with hidden state, and number parsers without end checks.
root="${TSSO_SOURCE_ROOT:-$(dirname "$0")/../..}"
hits=$(grep -rnE '\b(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|atol|atoll|gets)[[:space:]]*\(' \
	"$root/src" "$root/include" | grep -vE '\b(snprintf|vsnprintf)\(')
if [ -n "$hits" ]; then
	echo "banned functions used:"
	echo "$hits"
	exit 1
fi
echo "no banned function in src/ or include/"
