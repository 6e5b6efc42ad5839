"""spaCy's English word tokenization, exact and fast: the word and sentence units the rule sets count.

The reference rule sets (datatrove's Gopher, C4 and FineWeb filters) count words with a blank spaCy English
tokenizer and sentences with spaCy's rule-based sentencizer. Counting the same units is what makes the
decisions identical, so pilewright uses spaCy's own tokenizer *rules* (prefix, suffix and infix patterns,
special cases, URL matcher), read from the installed spaCy, and only changes how often they run:

* spaCy tokenizes every whitespace-delimited chunk independently, so a document's tokens are the
  concatenation of its chunks' tokens. Chunks repeat (Zipf), so each distinct chunk is tokenized once per
  worker and remembered (the ``TextAnalyzer`` memo).
* A new chunk goes through ``ChunkTokenizer``, a line-by-line port of spaCy's ``_split_affixes`` /
  ``_attach_tokens`` that skips a regex call whenever the characters involved cannot match it (a word that
  ends in a letter has no suffix unless a digit or an apostrophe is near its end, and so on). spaCy's suffix
  regex alone costs ~13 us a call because it is tried at every position; these checks bring a new chunk to
  a few microseconds. Every shortcut is a claim about spaCy's English rules that ``tests/transforms/quality/test_quality_words.py``
  checks against the installed spaCy, and a chunk where spaCy's special-case matcher would re-merge tokens
  is handed to spaCy itself.

One known, theoretical difference remains: spaCy's special-case matcher also sees token sequences that span
two chunks; such a match never changes tokens itself but could in principle hide an overlapping in-chunk
special case. ``benchmarks/compare_quality.py`` found no document where this happens.
"""
from __future__ import annotations

import re
import unicodedata
from functools import reduce
from itertools import chain
from operator import itemgetter, or_
from typing import NamedTuple, Optional, Sequence

import numpy as np

# spaCy's Sentencizer.default_punct_chars (a test checks they still match): a token equal to one of these
# ends a sentence
SENTENCE_PUNCT_CHARS = frozenset(
    "!.?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？"
    "𐩖𐩗𑁇𑁈𑂾𑂿𑃀𑃁𑅁𑅂𑅃𑇅𑇆𑇍𑇞𑇟𑈸𑈹𑈻𑈼𑊩𑑋𑑌𑗂𑗃𑗉𑗊𑗋𑗌𑗍𑗎𑗏𑗐𑗑𑗒𑗓𑗔𑗕𑗖𑗗𑙁𑙂𑜼𑜽𑜾𑩂𑩃𑪛𑪜𑱁𑱂𖩮𖩯𖫵𖬷𖬸𖭄𛲟𝪈｡。"
)
# token kinds for the sentencizer: ends a sentence / other punctuation / anything else (words, whitespace)
SENT_END, SENT_PUNCT, SENT_OTHER = "P", "p", "w"
_SENTENCE_BREAK = re.compile(r"P[Pp]*w")


def is_punct(token: str) -> bool:
    """spaCy's ``Token.is_punct``: every character is in a Unicode punctuation category."""
    return all(unicodedata.category(c)[0] == "P" for c in token)


def sentence_kind(token: str) -> str:
    if token in SENTENCE_PUNCT_CHARS:
        return SENT_END
    return SENT_PUNCT if is_punct(token) else SENT_OTHER


def count_sentences(kinds: str) -> int:
    """Sentences spaCy's sentencizer finds in a token sequence given as kinds (``sentence_kind``).

    A sentence starts after a sentence-ending token once a token that is neither sentence-ending nor
    punctuation follows. An empty sequence still counts one (datatrove's ``split_into_sentences`` returns
    ``[text]`` when there is no sentence span).
    """
    return 1 + len(_SENTENCE_BREAK.findall(kinds))


def _unescape(pattern: str) -> str:
    return re.sub(r"\\(.)", r"\1", pattern)


def _is_literal(pattern: str) -> bool:
    return re.fullmatch(r"(?:\\.|[^\\\[\](){}|*+?^$.])+", pattern) is not None


class ChunkTokenizer:
    """Tokenizes one whitespace-free chunk exactly as a spaCy ``Tokenizer`` does, faster for English.

    Args:
        nlp: a spaCy ``Language`` (``spacy.blank("en")``); its tokenizer's rules are used unchanged.
    """

    def __init__(self, nlp):
        from spacy.attrs import ORTH

        tok = nlp.tokenizer
        self._nlp = nlp
        self._tok = tok
        self._specials: dict[str, tuple[str, ...]] = {
            key: tuple(sub[ORTH] for sub in subs) for key, subs in tok.rules.items()
        }
        self._prefix_search = tok.prefix_search
        self._suffix_re = tok.suffix_search.__self__ if tok.suffix_search is not None else None
        self._infix_finditer = tok.infix_finditer
        self._url_match = tok.url_match
        # the shortcuts below are claims about English's affix rules; other languages use spaCy per chunk
        self._fast = nlp.lang == "en" and tok.token_match is None and self._suffix_re is not None
        if self._fast:
            self._init_english_shortcuts(nlp)
        self._matcher_patterns = self._special_matcher_patterns()
        patterns = [p for ps in self._matcher_patterns.values() for p in ps]
        # a match needs one of these single tokens, or one of these adjacent pairs
        self._pattern_singles = frozenset(p[0] for p in patterns if len(p) == 1)
        self._pattern_pairs = frozenset(p[:2] for p in patterns if len(p) >= 2)

    # -- shortcuts -------------------------------------------------------------------------------------
    def _init_english_shortcuts(self, nlp) -> None:
        from spacy.lang.char_classes import LIST_ICONS

        defaults = type(nlp).Defaults
        prefixes = list(defaults.prefixes or [])
        suffixes = list(defaults.suffixes or [])
        # literal prefixes that start with a letter or digit ("US$", "C$", "A$"): all other prefixes start
        # with punctuation or a symbol, so a chunk starting with a letter or digit has no prefix otherwise
        self._alnum_prefixes = tuple(
            sorted(_unescape(p) for p in prefixes if _is_literal(p) and _unescape(p)[0].isalnum())
        )
        # a suffix of one of these characters is exactly that character: no longer suffix pattern ends
        # with it (the longer ones end in '.', '…', "s"/"S", a currency sign or a unit)
        single = {_unescape(p) for p in suffixes if _is_literal(p) and len(_unescape(p)) == 1}
        self._simple_suffix = frozenset(c for c in single if c not in ".…" and not c.isalnum())
        # longest match of the bounded suffix patterns: units and currencies after a digit, "'s", "……"
        lengths = [2, 3]
        for p in suffixes:
            m = re.fullmatch(r"\(\?<=\[0-9\]\)\(\?:(.*)\)", p)
            if m:
                lengths.extend(len(_unescape(u)) for u in m.group(1).split("|"))
        self._suffix_window = max(lengths) + 1
        self._apostrophe_s = ("'s", "'S", "’s", "’S")
        # every infix match contains one of these characters
        self._infix_hint = re.compile(r"[.…+\-*^,~:<>=/–—]|" + LIST_ICONS[0])
        # single punctuation characters that are always split off alone at the start / end of a chunk
        # (checked here against the tokenizer's own regexes, next to each other and next to a word)
        single_pre = {_unescape(p) for p in prefixes if _is_literal(p) and len(_unescape(p)) == 1}
        pre = sorted(c for c in single_pre if not c.isalnum() and c not in ".…+")
        suf = sorted(self._simple_suffix)
        pre = [c for c in pre if all(self._prefix_search(c + d + "a").end() == 1 for d in pre + ["a", "A", "0"])]
        suf = [
            c for c in suf if all(self._suffix_re.search("a" + d + c).start() == len(d) + 1 for d in suf + ["a", "A", "."])
        ]
        self._simple_suffix = frozenset(suf)
        self._simple_prefix = frozenset(pre)
        self._infix_separator = re.compile("([-–—/])")
        self._infixed_word = re.compile("[A-Za-z0-9]+(?:[-–—/][A-Za-z]+)+")
        # the common new chunks: punctuation, then a word (or ASCII words joined by hyphens, dashes or
        # slashes, or a number), an optional possessive, then punctuation, periods and percent signs;
        # e.g. ("word"), well-known. Saturn's 1,750 10-year-old 21:44:57 and/or 4.5%.
        self._shape = re.compile(
            "([%s]*)([A-Za-z0-9]+(?:[-–—/][A-Za-z]+)+|[^\\W\\d_]+|[0-9]+(?:[.,:/][0-9]+)*)(['’][sS])?([%s.%%]*)"
            % ("".join(map(re.escape, pre)), "".join(map(re.escape, suf)))
        )
        # cores of the special cases that have the shape: only chunks with these cores need the peeling loop
        self._special_cores = frozenset(
            m.group(2) for m in map(self._shape.fullmatch, self._specials) if m is not None
        )

    def _find_prefix(self, s: str) -> int:
        if self._prefix_search is None:
            return 0
        if self._fast and s[0].isalnum() and not s.startswith(self._alnum_prefixes):
            return 0
        m = self._prefix_search(s)
        return (m.end() - m.start()) if m is not None else 0

    def _find_suffix(self, s: str) -> int:
        if self._suffix_re is None or not s:
            return 0
        if self._fast:
            last = s[-1]
            if last in self._simple_suffix:
                return 1
            if last.isalnum():
                tail = s[-self._suffix_window:]
                if not s.endswith(self._apostrophe_s) and not any("0" <= c <= "9" for c in tail):
                    return 0
            if not s.endswith("..") and not s.endswith("……"):
                # all matches that can end here are at most _suffix_window long; lookbehinds still see
                # the characters before ``pos``
                m = self._suffix_re.search(s, max(0, len(s) - self._suffix_window))
                return (m.end() - m.start()) if m is not None else 0
        m = self._suffix_re.search(s)
        return (m.end() - m.start()) if m is not None else 0

    def _infixes(self, s: str):
        if self._infix_finditer is None:
            return []
        if self._fast and self._infix_hint.search(s) is None:
            return []
        return list(self._infix_finditer(s))

    # -- spaCy's algorithm -----------------------------------------------------------------------------
    def _affixes(self, string: str, with_specials: bool) -> list[str]:
        """``Tokenizer._split_affixes`` + ``_attach_tokens`` for one chunk (spaCy 3.x)."""
        specials = self._specials if with_specials else {}
        prefixes: list[str] = []
        suffixes: list[str] = []
        last_size = 0
        while string and len(string) != last_size:
            if string in specials:
                break
            last_size = len(string)
            pre_len = self._find_prefix(string)
            if pre_len:
                prefix = string[:pre_len]
                minus_pre = string[pre_len:]
                if minus_pre and minus_pre in specials:
                    string = minus_pre
                    prefixes.append(prefix)
                    break
            suf_len = self._find_suffix(string[pre_len:])
            if suf_len:
                suffix = string[-suf_len:]
                minus_suf = string[:-suf_len]
                if minus_suf and minus_suf in specials:
                    string = minus_suf
                    suffixes.append(suffix)
                    break
            if pre_len and suf_len and (pre_len + suf_len) <= len(string):
                string = string[pre_len:-suf_len]
                prefixes.append(prefix)
                suffixes.append(suffix)
            elif pre_len:
                string = minus_pre
                prefixes.append(prefix)
            elif suf_len:
                string = minus_suf
                suffixes.append(suffix)
        tokens = prefixes
        if string:
            special = specials.get(string)
            if special is not None:
                tokens.extend(special)
            else:
                matches = self._infixes(string)
                if not matches or (self._url_match is not None and self._url_match(string)):
                    tokens.append(string)
                else:
                    start = 0
                    for match in matches:
                        infix_start, infix_end = match.start(), match.end()
                        if infix_start == 0:
                            continue
                        if infix_start != start:
                            tokens.append(string[start:infix_start])
                        if infix_start != infix_end:
                            tokens.append(string[infix_start:infix_end])
                        start = infix_end
                    if string[start:]:
                        tokens.append(string[start:])
        tokens.extend(reversed(suffixes))
        return tokens

    def _special_matcher_patterns(self) -> dict[str, list[tuple[str, ...]]]:
        """Token sequences spaCy's special-case matcher re-merges after affix splitting, by first token."""
        tok = self._tok
        patterns: dict[str, list[tuple[str, ...]]] = {}
        for key in sorted(self._specials):
            if any(c.isspace() for c in key):
                continue  # whitespace specials only ever match whitespace tokens
            if tok.faster_heuristics and not (tok.find_prefix(key) or tok.find_suffix(key) or tok.find_infix(key)):
                continue
            pattern = tuple(self._affixes(key, with_specials=False))
            if pattern == self._specials[key]:
                continue  # re-merging would give the same tokens
            patterns.setdefault(pattern[0], []).append(pattern)
        return patterns

    @property
    def alpha_is_one_token(self) -> bool:
        """Whether a chunk of letters only that is no special case is always one token (English)."""
        return self._fast

    @property
    def specials(self) -> dict[str, tuple[str, ...]]:
        """spaCy's special cases: chunk -> its tokens."""
        return self._specials

    def _may_match(self, tokens: list[str]) -> bool:
        return not self._pattern_singles.isdisjoint(tokens) or any(
            map(self._pattern_pairs.__contains__, zip(tokens, tokens[1:]))
        )

    def _needs_matcher(self, tokens: list[str]) -> bool:
        patterns = self._matcher_patterns
        n = len(tokens)
        for i, t in enumerate(tokens):
            for pattern in patterns.get(t, ()):
                k = len(pattern)
                if i + k <= n and tuple(tokens[i : i + k]) == pattern:
                    return True
        return False

    def spacy_tokens(self, chunk: str) -> tuple[str, ...]:
        """The reference: spaCy itself on one chunk (used when the special-case matcher would act)."""
        with self._nlp.memory_zone():
            try:
                return tuple(t.text for t in self._tok(chunk))
            except Exception:
                # datatrove's workaround for strings that break spaCy's string store
                if "IS_ALPHA" not in chunk:
                    raise
                return tuple(t.text for t in self._tok(chunk.replace("IS_ALPHA", "")))

    def _shaped(self, chunk: str) -> Optional[list[str]]:
        """``_affixes`` for chunks of the common shapes (``_shape``) with at most one regex call, or None.

        Every prefix of those shapes is one character and every suffix one character, a period or a
        possessive, so spaCy's loop reduces to peeling one piece from each end per round, with its
        special-case checks on what remains; what remains is one token, or words split at hyphens.
        """
        specials = self._specials
        # the commonest shapes first: a word and one punctuation mark
        word, last = chunk[:-1], chunk[-1]
        if word.isalpha():
            if last in self._simple_suffix or (last == "." and self._suffix_re.search(chunk, len(chunk) - 1)):
                return [*specials.get(word, (word,)), last]
        first, word = chunk[0], chunk[1:]
        if first in self._simple_prefix and word.isalpha():
            return [first, *specials.get(word, (word,))]
        m = self._shape.fullmatch(chunk)
        if m is None:
            return None
        pre, core, poss, tail = m.groups()
        infixed = self._infixed_word.fullmatch(core) is not None
        if infixed and not core.isalpha() and self._find_suffix(core):
            return None  # a unit after a digit ("10km/h") is a suffix, found before any infix
        if not (pre or poss or tail or infixed):
            # a number (a word of letters only never gets here): no affix, no infix between digits
            return [core] if core[0].isdigit() else None
        if tail and (".." in tail or "…" in tail):
            return None  # an ellipsis is one suffix: not this shape
        simple = self._simple_suffix
        start = m.start(4)
        for k in range(start, len(chunk)):
            if chunk[k] not in simple:
                # a period or percent sign splits off as one character only in some contexts (after a
                # lower-case letter or a digit, ...): ask the suffix regex, whose lookbehind sees the
                # characters before, for a one-character match exactly there
                hit = self._suffix_re.search(chunk, max(0, k + 1 - self._suffix_window), k + 1)
                if hit is None or hit.start() != k:
                    return None
        if core not in self._special_cores:
            # no special case can be among the strings spaCy checks while peeling: each one contains
            # the core, and parses to it
            tokens = list(pre)
            if infixed:
                tokens.extend(p for p in self._infix_separator.split(core) if p)
            else:
                tokens.append(core)
            if poss:
                tokens.append(poss)
            tokens.extend(tail)
            return tokens
        suf_pieces = [1] * len(tail)
        if poss:
            suf_pieces.append(2)
        n_pre, n_suf = len(pre), len(suf_pieces)
        lo, hi, i, j = 0, len(chunk), 0, 0
        prefixes: list[str] = []
        suffixes: list[str] = []
        while chunk[lo:hi] not in specials:
            has_pre, has_suf = i < n_pre, j < n_suf
            if has_pre and chunk[lo + 1 : hi] in specials:
                prefixes.append(chunk[lo])
                lo += 1
                break
            if has_suf:
                k = suf_pieces[j]
                if chunk[lo : hi - k] in specials:
                    suffixes.append(chunk[hi - k : hi])
                    hi -= k
                    break
            if not (has_pre or has_suf):
                break
            if has_pre:
                prefixes.append(chunk[lo])
                lo += 1
                i += 1
            if has_suf:
                k = suf_pieces[j]
                suffixes.append(chunk[hi - k : hi])
                hi -= k
                j += 1
        rest = chunk[lo:hi]
        special = specials.get(rest)
        if special is not None:
            prefixes.extend(special)
        elif infixed and rest == core:
            # hyphens, dashes and slashes before letters are infixes (no URL is made of words and these
            # alone); the pieces are not split further
            prefixes.extend(p for p in self._infix_separator.split(rest) if p)
        else:
            prefixes.append(rest)
        prefixes.extend(reversed(suffixes))
        return prefixes

    def __call__(self, chunk: str) -> tuple[str, ...]:
        """Tokens of one whitespace-free chunk."""
        special = self._specials.get(chunk)
        if special is not None:
            return special
        if not self._fast:
            return self.spacy_tokens(chunk)
        if chunk.isalpha() or (chunk.isdecimal() and chunk.isascii()):
            return (chunk,)
        tokens = self._shaped(chunk)
        if tokens is None:
            tokens = self._affixes(chunk, with_specials=True)
        if len(tokens) > 1 and self._may_match(tokens) and self._needs_matcher(tokens):
            return self.spacy_tokens(chunk)
        return tuple(tokens)


def load_spacy(language: str = "en"):
    """A blank spaCy pipeline: tokenizer only, no model download."""
    import spacy

    return spacy.blank(language)


def spacy_reference_words(nlp, text: str) -> list[str]:
    """datatrove's ``SpaCyTokenizer.word_tokenize``: spaCy on the whole text, whitespace tokens dropped."""
    with nlp.memory_zone():
        nlp.max_length = len(text) + 10
        return [t for t in (tok.text.strip() for tok in nlp(text)) if t]


# A chunk's facts, computed once per distinct chunk (a plain tuple: indexing is the hot path). Fields:
TOKENS, WORD_IDS, NON_SYMBOL_WORDS, NON_SYMBOL_CHARS, ALPHA_WORDS, STOP_MASK, KINDS, HAS_ALPHA = range(8)
#   tokens             tuple[str, ...]
#   word_ids           tuple[int, ...]  indices into the analyzer's word table
#   non_symbol_words   tokens with a character outside PUNCTUATION_SET
#   non_symbol_chars   their total length
#   alpha_words        tokens with an alphabetic character
#   stop_mask          bit mask of the analyzer's stop words among the tokens
#   kinds              one sentence_kind per token
#   has_alpha          1 if the chunk has an alphabetic character


class DocWords(NamedTuple):
    """A document's word-level counts, and its words as indices into the analyzer's word table."""

    n_words: int
    non_symbol_words: int
    non_symbol_chars: int
    alpha_words: int
    stop_words: int  # distinct stop words present
    n_chunks: int  # whitespace-separated words
    alpha_chunks: int  # of them with an alphabetic character
    chunk_infos: list  # the facts of each whitespace-separated word, in order (``TOKENS``... fields)
    word_ids: list[int]


_WHITESPACE_RUN = re.compile(r"(\s+)")


class TextAnalyzer:
    """Word and sentence units of texts, with a per-worker memo of distinct chunks and tokens.

    Build one per worker (``DoFn.setup``): loading spaCy takes about a second, and the memo is what makes
    tokenization fast. The memo and word table are dropped and rebuilt once they hold ``max_chunks``
    chunks, so memory stays bounded on any corpus; results never depend on what was memoized.

    Args:
        stop_words: the words whose distinct occurrences ``DocWords.stop_words`` counts (Gopher).
        max_chunks: memo size bound.
        language: spaCy language of the tokenizer (datatrove's English filters use ``en``).
    """

    def __init__(
        self,
        stop_words: Sequence[str] = (),
        max_chunks: int = 500_000,
        language: str = "en",
    ):
        from pilewright.transforms.quality.text import PUNCTUATION_SET

        self._nlp = load_spacy(language)
        self.tokenize_chunk = ChunkTokenizer(self._nlp)
        self._specials = self.tokenize_chunk.specials
        self._alpha_is_one_token = self.tokenize_chunk.alpha_is_one_token
        self._stop_bits = {w: 1 << i for i, w in enumerate(dict.fromkeys(stop_words))}
        self._punctuation = PUNCTUATION_SET
        self.max_chunks = max_chunks
        self._reset()

    def _reset(self) -> None:
        self._memo: dict[str, tuple] = {}
        self._tokens: dict[str, tuple] = {}
        self._words: list[str] = []
        self._hashes = WordHashes()

    def _token(self, t: str) -> tuple:
        """(word id, non-symbol, its length or 0, has a letter, stop bit, sentence kind) of one token."""
        if t.isalpha():
            facts = (len(self._words), 1, len(t), 1, self._stop_bits.get(t, 0), SENT_OTHER)
        else:
            non_symbol = any(c not in self._punctuation for c in t)
            facts = (
                len(self._words),
                int(non_symbol),
                len(t) if non_symbol else 0,
                int(any(c.isalpha() for c in t)),
                self._stop_bits.get(t, 0),
                sentence_kind(t),
            )
        self._words.append(t)
        self._tokens[t] = facts
        return facts

    def chunk(self, chunk: str) -> tuple:
        info = self._memo.get(chunk)
        if info is not None:
            return info
        return self._new_chunk(chunk)

    def _new_chunk(self, chunk: str) -> tuple:
        if self._alpha_is_one_token and chunk.isalpha() and chunk not in self._specials:
            # most new chunks are a plain word: one token, itself
            f = self._tokens.get(chunk) or self._token(chunk)
            info = self._memo[chunk] = ((chunk,), (f[0],), f[1], f[2], f[3], f[4], f[5], 1)
            return info
        tokens = self.tokenize_chunk(chunk)
        get = self._tokens.get
        facts = [get(t) or self._token(t) for t in tokens]
        if len(facts) == 1:
            f = facts[0]
            info = (tokens, (f[0],), f[1], f[2], f[3], f[4], f[5], f[3])
        else:
            ids, non_symbol, non_symbol_chars, alpha, stop, kinds = zip(*facts)
            n_alpha = sum(alpha)
            info = (
                tokens,
                ids,
                sum(non_symbol),
                sum(non_symbol_chars),
                n_alpha,
                reduce(or_, stop),
                "".join(kinds),
                int(n_alpha > 0),
            )
        self._memo[chunk] = info
        return info

    def begin_document(self) -> None:
        """Drops the memo when full; call between documents (word ids stay valid within one)."""
        if len(self._memo) >= self.max_chunks:
            self._reset()

    def words(self, text: str, chunks: Optional[list[str]] = None) -> DocWords:
        """Word counts of a text, as datatrove's ``split_into_words`` (spaCy English) would give them.

        ``chunks`` may pass ``text.split()`` when the caller has it already.
        """
        memo_get = self._memo.get
        if chunks is None:
            chunks = text.split()
        infos = list(map(memo_get, chunks))
        if None in infos:
            i = -1
            try:
                while True:
                    i = infos.index(None, i + 1)
                    infos[i] = memo_get(chunks[i]) or self._new_chunk(chunks[i])
            except ValueError:
                pass
        word_ids = list(chain.from_iterable(map(itemgetter(WORD_IDS), infos)))
        return DocWords(
            n_words=len(word_ids),
            non_symbol_words=sum(map(itemgetter(NON_SYMBOL_WORDS), infos)),
            non_symbol_chars=sum(map(itemgetter(NON_SYMBOL_CHARS), infos)),
            alpha_words=sum(map(itemgetter(ALPHA_WORDS), infos)),
            stop_words=bin(reduce(or_, map(itemgetter(STOP_MASK), infos), 0)).count("1"),
            n_chunks=len(infos),
            alpha_chunks=sum(map(itemgetter(HAS_ALPHA), infos)),
            chunk_infos=infos,
            word_ids=word_ids,
        )

    def word_strings(self, word_ids: Sequence[int]) -> list[str]:
        """The words behind word-table indices (valid until the memo is next dropped)."""
        return [self._words[i] for i in word_ids]

    def word_arrays(self, word_ids: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(id hashes, character hashes, lengths) of the given words, for ``quality_ngrams.repetition_chars``."""
        return self._hashes.take(self._words, word_ids)

    @staticmethod
    def sentences_of_chunks(infos: Sequence[tuple]) -> int:
        """Sentences in a line whose chunks are separated by single spaces, from their facts."""
        kinds = "".join(map(itemgetter(KINDS), infos))
        return count_sentences(kinds) if SENT_END in kinds else 1

    def sentences(self, line: str, chunks: Optional[list[str]] = None) -> int:
        """Sentences spaCy's sentencizer finds in one line (datatrove's ``split_into_sentences``).

        ``chunks`` may pass ``line.split()`` when the caller has it already.
        """
        memo_get = self._memo.get
        chunk = self.chunk
        if chunks is None:
            chunks = line.split()
        if " ".join(chunks) == line:
            kinds = "".join([(memo_get(c) or chunk(c))[KINDS] for c in chunks])
            return count_sentences(kinds) if SENT_END in kinds else 1
        # other whitespace than single spaces between words: spaCy makes tokens of some of it
        kinds = []
        seen_text = False
        for part in _WHITESPACE_RUN.split(line):
            if not part:
                continue
            if part[0].isspace():
                # spaCy folds one plain space after a token into it; any other whitespace is a token
                rest = part[1:] if (seen_text and part[0] == " ") else part
                if rest:
                    kinds.append(SENT_OTHER)
            else:
                seen_text = True
                kinds.append((memo_get(part) or chunk(part))[KINDS])
        return count_sentences("".join(kinds))


class WordHashes:
    """64-bit hashes of the word table's words, computed lazily in numpy batches (only long documents
    need them): a polynomial hash of each word's characters (so hashes of concatenations follow from
    them) and a mixed id hash for comparing word sequences."""

    def __init__(self):
        self._ids = np.zeros(0, np.uint64)
        self._chars = np.zeros(0, np.uint64)
        self._lengths = np.zeros(0, np.int64)

    def take(self, words: list[str], word_ids: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from pilewright.transforms.quality.ngrams import hash_words

        done = len(self._ids)
        if done < len(words):
            ids, chars, lengths = hash_words(words[done:])
            self._ids = np.concatenate([self._ids, ids])
            self._chars = np.concatenate([self._chars, chars])
            self._lengths = np.concatenate([self._lengths, lengths])
        idx = np.array(word_ids, dtype=np.int64)
        return self._ids[idx], self._chars[idx], self._lengths[idx]
