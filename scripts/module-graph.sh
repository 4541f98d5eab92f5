#!/usr/bin/env bash
# Prints each crate's module dependency graph and fails if a crate has a cycle.
#
# An edge `a b` means module `a` uses `crate::b` in code (comments and doc links are not
# counted). Modules are files: `src/x.rs` and `src/x/mod.rs` are `x`, `src/x/y.rs` is `x`
# too (a module's submodules are its own business). `tsort` finds cycles.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
for src in crates/*/src; do
  crate=$(basename "$(dirname "$src")")
  edges=$(
    find "$src" -name '*.rs' | sort | while read -r file; do
      rel=${file#"$src"/}
      module=${rel%%/*}
      module=${module%.rs}
      [ "$module" = lib ] || [ "$module" = main ] && module=root
      grep -v '^\s*//' "$file" | grep -oE 'crate::[a-z_][a-z0-9_]*' | sed 's/crate:://' | sort -u |
        while read -r dep; do
          # Items of the crate root (crate::Error, crate::registry()) are not modules.
          if [ -e "$src/$dep.rs" ] || [ -e "$src/$dep/mod.rs" ]; then
            [ "$dep" != "$module" ] && [ "$module" != root ] && echo "$module $dep"
          fi
        done || true
    done | sort -u
  )
  if [ -z "$edges" ]; then
    echo "$crate: no edges between modules"
    continue
  fi
  echo "$crate:"
  echo "$edges" | awk '{ deps[$1] = deps[$1] " " $2 } END { for (m in deps) print "  " m " ->" deps[m] }' | sort
  if ! echo "$edges" | tsort >/dev/null 2>/tmp/module-graph.$$; then
    echo "  CYCLE in $crate:"
    sed 's/^/    /' /tmp/module-graph.$$
    status=1
  fi
  rm -f /tmp/module-graph.$$
done
exit $status
