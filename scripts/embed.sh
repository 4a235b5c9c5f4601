#!/bin/sh
# embed.sh NAME FILE: prints a C definition `const char NAME[]` holding FILE's text.
set -eu
printf 'const char %s[] =\n' "$1"
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$/\\n"/' "$2"
printf '\t"";\n'
