#!/bin/sh
# nocc_path.sh DIR VENVBIN: make DIR a PATH directory with everything in
# VENVBIN, /usr/local/bin, /usr/bin and /bin except C compilers and linkers'
# drivers (gcc, cc, g++, c++, clang*, x86_64-linux-gnu-gcc*, ...): make
# wheel-test runs the installed wheel's suite with PATH=DIR, so nothing can
# build the extension from source behind its back.
set -e
dir=$1
shift
mkdir -p "$dir"
for bindir in "$@" /usr/local/bin /usr/bin /bin; do
    [ -d "$bindir" ] || continue
    for f in "$bindir"/*; do
        name=$(basename "$f")
        case "$name" in
            gcc*|cc|cc-*|c89*|c99*|c++*|g++*|clang*|cpp*|*-gcc*|*-g++*|*-cpp*|*-cc|tcc|icc|ld|ld.*|*-ld|*-ld.*|as|*-as) continue ;;
        esac
        [ -e "$dir/$name" ] || ln -s "$f" "$dir/$name"
    done
done
