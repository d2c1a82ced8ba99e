#!/usr/bin/env python3
"""Build the large search-evaluation corpus from crate docs in the cargo registry.

Reads Cargo.lock, takes every registry package, finds its unpacked source under
~/.cargo/registry/src/*/<name>-<version>/, and splits README / docs Markdown into
heading-delimited sections. Output is deterministic (byte-identical on re-run
with the same Cargo.lock and registry contents).

Usage: python3 scripts/eval-corpus.py [--lock Cargo.lock] [--out engine/tests/data/eval-large/memories.jsonl]
       python3 scripts/eval-corpus.py --long   (writes engine/tests/data/eval-large/long-memories.jsonl:
       the same sections untrimmed, only those of >= 400 estimated tokens, capped at 6,000 characters)
Stdlib only (Python 3.11+).
"""

import argparse
import glob
import json
import os
import re
import sys
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_PREFIXES = ("changelog", "license", "contributing", "code_of_conduct", "releases", "security")
MIN_WORDS = 30
MAX_BODY = 1200
MAX_PER_CRATE = 12
MAX_TOTAL = 3000
MIN_TOTAL = 2000
# --long: sections of at least LONG_MIN_TOKENS estimated tokens (words x 1.3), capped at LONG_MAX_BODY chars
LONG_MIN_TOKENS = 400
LONG_MAX_BODY = 6000
LONG_MIN_TOTAL = 90

HEADING_RE = re.compile(r"^(#{1,4})\s+(.*?)\s*#*\s*$")
FENCE_RE = re.compile(r"^\s*(```|~~~)")
IMAGE_RE = re.compile(r"^\s*(\[!\[|!\[|<img|<a\s|<p\s|</?p>|</?div|<br)", re.I)
BADGE_LINK_RE = re.compile(r"^\s*\[[^\]]*\]:\s*\S+")  # reference-style link definitions
BARE_URL_RE = re.compile(r"^\s*[<(]?https?://\S+[>)]?\s*$")
LINK_ONLY_RE = re.compile(r"^\s*([-*+]\s+)?\[[^\]]*\]\([^)]*\)\s*[.,|]?\s*$")


def registry_packages(lock_path):
    with open(lock_path, "rb") as f:
        data = tomllib.load(f)
    pkgs = set()
    for p in data.get("package", []):
        if str(p.get("source", "")).startswith("registry+"):
            pkgs.add((p["name"], p["version"]))
    return sorted(pkgs)


def find_source(name, version):
    cargo_home = os.environ.get("CARGO_HOME") or os.path.join(os.path.expanduser("~"), ".cargo")
    hits = sorted(glob.glob(os.path.join(cargo_home, "registry", "src", "*", f"{name}-{version}")))
    hits = [h for h in hits if os.path.isdir(h)]
    return hits[0] if hits else None


def skipped(fname):
    return fname.lower().startswith(SKIP_PREFIXES)


def markdown_files(src):
    out = []
    for entry in sorted(os.listdir(src)):
        full = os.path.join(src, entry)
        if os.path.isfile(full) and entry.lower() == "readme.md":
            out.append(entry)
    for d in ("docs", "doc"):
        base = os.path.join(src, d)
        if not os.path.isdir(base):
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for fn in sorted(filenames):
                if fn.lower().endswith(".md") and not skipped(fn):
                    out.append(os.path.relpath(os.path.join(dirpath, fn), src).replace(os.sep, "/"))
    return sorted(set(out))


def rust_doc_files(src):
    """Rust sources whose inner doc comments (//!) form the crate's rustdoc pages."""
    base = os.path.join(src, "src")
    out = []
    if not os.path.isdir(base):
        return out
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.endswith(".rs"):
                out.append(os.path.relpath(os.path.join(dirpath, fn), src).replace(os.sep, "/"))
    return sorted(out)


def inner_doc_text(text):
    """Markdown from the leading //! inner doc comment block of a Rust file."""
    out = []
    started = False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("//!"):
            started = True
            d = s[3:]
            out.append(d[1:] if d.startswith(" ") else d)
        elif started and s == "":
            out.append("")
        elif not started and (s == "" or s.startswith("//") or s.startswith("#!")):
            continue
        elif started:
            break
        else:
            break
    return "\n".join(out)


def clean_heading(h):
    h = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", h)
    h = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", h)
    h = re.sub(r"<[^>]+>", "", h)
    h = h.replace("`", "").strip()
    return re.sub(r"\s+", " ", h)


def split_sections(text):
    """Yield (heading_path list, body lines) at ATX headings # .. #### outside fences."""
    stack = []  # list of (level, title)
    body = []
    sections = []
    in_fence = False
    for line in text.splitlines():
        if FENCE_RE.match(line):
            in_fence = not in_fence
            body.append(line)
            continue
        m = None if in_fence else HEADING_RE.match(line)
        if m:
            sections.append(([t for _, t in stack], body))
            level = len(m.group(1))
            title = clean_heading(m.group(2))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            body = []
        else:
            body.append(line)
    sections.append(([t for _, t in stack], body))
    return sections


def mostly_noise(lines):
    nonblank = [l for l in lines if l.strip()]
    if not nonblank:
        return True
    noise = 0
    in_fence = False
    for l in nonblank:
        if FENCE_RE.match(l):
            in_fence = not in_fence
            noise += 1
        elif in_fence:
            noise += 1
        elif IMAGE_RE.match(l) or BADGE_LINK_RE.match(l) or BARE_URL_RE.match(l) or LINK_ONLY_RE.match(l):
            noise += 1
    return noise / len(nonblank) > 0.6


def prose_words(lines):
    n = 0
    in_fence = False
    for l in lines:
        if FENCE_RE.match(l):
            in_fence = not in_fence
            continue
        if not in_fence:
            n += len(l.split())
    return n


def normalise(lines):
    # strip HTML comments, trailing spaces, collapse runs of blank lines
    text = "\n".join(lines)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    out = []
    blank = False
    for l in text.splitlines():
        l = l.rstrip().replace("\t", "    ")
        if not l.strip():
            if not blank and out:
                out.append("")
            blank = True
            continue
        blank = False
        out.append(l)
    while out and not out[-1]:
        out.pop()
    return out


def estimated_tokens(text):
    return len(text.split()) * 1.3


def trim(lines, max_body=MAX_BODY):
    out = []
    size = 0
    for l in lines:
        add = len(l) + (1 if out else 0)
        if size + add > max_body:
            break
        out.append(l)
        size += add
    if not out and lines:
        out = [lines[0][:max_body]]
    while out and not out[-1].strip():
        out.pop()
    # do not leave an unclosed code fence
    if sum(1 for l in out if FENCE_RE.match(l)) % 2 == 1:
        if sum(len(l) + 1 for l in out) + 3 <= max_body:
            out.append("```")
        else:
            while out and not FENCE_RE.match(out[-1]):
                out.pop()
            if out:
                out.pop()
    return "\n".join(out).strip("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lock", default=os.path.join(ROOT, "Cargo.lock"))
    ap.add_argument("--out", default=None,
                    help="output file (default engine/tests/data/eval-large/memories.jsonl, "
                         "or long-memories.jsonl with --long)")
    ap.add_argument("--long", action="store_true",
                    help="write the long-section set: bodies not trimmed at 1,200 characters, only sections "
                         f"of >= {LONG_MIN_TOKENS} estimated tokens (words x 1.3), capped at {LONG_MAX_BODY} characters")
    # The packages the frozen set was built from: only these are read (the registry may hold
    # more, e.g. after `cargo fetch`, which would change which sections survive deduplication).
    ap.add_argument("--packages", default=os.path.join(ROOT, "engine", "tests", "data", "eval-large", "packages.txt"))
    ap.add_argument("--write-packages", action="store_true", help="record the packages found as the frozen list")
    args = ap.parse_args()
    if args.out is None:
        args.out = os.path.join(ROOT, "engine", "tests", "data", "eval-large",
                                "long-memories.jsonl" if args.long else "memories.jsonl")
    t0 = time.time()

    pkgs = registry_packages(args.lock)
    if not args.write_packages:
        with open(args.packages, encoding="utf-8") as f:
            frozen = [tuple(line.split()) for line in f if line.strip()]
        missing = [f"{n} {v}" for n, v in frozen if not find_source(n, v)]
        if missing:
            print(f"ERROR: {len(missing)} packages of {args.packages} are not in the registry "
                  f"(run `cargo fetch --locked`), e.g. {missing[:3]}", file=sys.stderr)
            return 1
        pkgs = frozen
    found = 0
    files_seen = 0
    raw = 0
    dropped_short = dropped_noise = dropped_dup = dropped_tokens = 0
    seen_body = set()
    seen_prefix = set()
    records = []
    for name, version in pkgs:
        src = find_source(name, version)
        if not src:
            continue
        found += 1
        files = markdown_files(src) + rust_doc_files(src)
        docs = []
        for rel in files:
            try:
                with open(os.path.join(src, rel), encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            if rel.endswith(".rs"):
                text = inner_doc_text(text)
                if not text.strip():
                    continue
            docs.append((rel, text))
        multi = len(docs) > 1
        for rel, text in docs:
            files_seen += 1
            for n, (path, body) in enumerate(split_sections(text)):
                raw += 1
                if prose_words(body) < MIN_WORDS:
                    dropped_short += 1
                    continue
                if mostly_noise(body):
                    dropped_noise += 1
                    continue
                lines = normalise(body)
                full_norm = re.sub(r"\s+", " ", "\n".join(lines)).strip()
                prefix = full_norm.lower()[:200]
                if full_norm in seen_body or prefix in seen_prefix:
                    dropped_dup += 1
                    continue
                seen_body.add(full_norm)
                seen_prefix.add(prefix)
                heading = " > ".join([name] + [p for p in path if p])
                if args.long:
                    # same section, not trimmed at MAX_BODY: keep it only if long, then cap it
                    if estimated_tokens(f"{heading}\n\n" + "\n".join(lines)) < LONG_MIN_TOKENS:
                        dropped_tokens += 1
                        continue
                    body_text = trim(lines, LONG_MAX_BODY)
                    if estimated_tokens(f"{heading}\n\n{body_text}") < LONG_MIN_TOKENS:
                        dropped_tokens += 1
                        continue
                else:
                    body_text = trim(lines)
                rid = f"{name}@{version}/{rel}#{n}" if multi else f"{name}@{version}:{n}"
                records.append({
                    "id": rid,
                    "crate": name,
                    "heading": heading,
                    "text": f"{heading}\n\n{body_text}",
                    "_key": (name, version, rel, n),
                })
    records.sort(key=lambda r: r["_key"])
    total_sections = len(records)
    if not args.long and len(records) > MAX_TOTAL:
        per = {}
        kept = []
        for r in records:
            c = per.get(r["crate"], 0)
            if c < MAX_PER_CRATE:
                kept.append(r)
                per[r["crate"]] = c + 1
        records = kept
        if len(records) > MAX_TOTAL:
            k = -(-len(records) // MAX_TOTAL)  # ceil
            records = records[::k]
    if args.write_packages and not args.long:
        with open(args.packages, "w", encoding="utf-8", newline="\n") as f:
            for name, version in pkgs:
                if find_source(name, version):
                    f.write(f"{name} {version}\n")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            r = {k: v for k, v in r.items() if k != "_key"}
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n")
    crates = len({r["crate"] for r in records})
    print(f"registry packages in lock: {len(pkgs)}", file=sys.stderr)
    print(f"sources found: {found}; doc files (markdown + rust //! docs): {files_seen}", file=sys.stderr)
    print(f"raw sections: {raw}; dropped short: {dropped_short}, noisy: {dropped_noise}, duplicate: {dropped_dup}", file=sys.stderr)
    if args.long:
        print(f"dropped under {LONG_MIN_TOKENS} estimated tokens: {dropped_tokens}", file=sys.stderr)
    print(f"sections after filtering: {total_sections}; written: {len(records)} from {crates} crates", file=sys.stderr)
    print(f"elapsed: {time.time() - t0:.2f}s", file=sys.stderr)
    minimum = LONG_MIN_TOTAL if args.long else MIN_TOTAL
    if len(records) < minimum:
        print(f"ERROR: fewer than {minimum} memories", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
