#!/usr/bin/env python3
"""Doxygen INPUT_FILTER for the public headers: drops the SFINAE machinery from what the reference
shows, so that `template <class F, class S, class = std::enable_if_t<...>>` reads
`template <class F, class S>`. Lines are kept (the reference's line numbers stay right)."""
import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
out, i = [], 0
opening = re.compile(r",\s*(?:class|typename)\s*=\s*std::enable_if_t<")
while True:
    m = opening.search(text, i)
    if not m:
        out.append(text[i:])
        break
    out.append(text[i:m.start()])
    depth, j = 1, m.end()
    while j < len(text) and depth:  # to the `>` closing enable_if_t<
        depth += {"<": 1, ">": -1}.get(text[j], 0)
        j += 1
    out.append("\n" * text.count("\n", m.start(), j))
    i = j
sys.stdout.write("".join(out))
