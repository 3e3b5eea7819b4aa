"""A seeded corpus of varied strings for the tokenizer's differential test.

Hand-written cases cover what GPT-2's pre-tokenizer treats specially (contractions, whitespace
runs before words, digits, punctuation runs, Unicode letters and numbers, emoji); random
mixtures of them and of code points from stable Unicode blocks fill the rest.
"""
import random

HAND_WRITTEN = [
    "The next word is galaxy", "The next word is orange", "", " ", "  ", "\n", "\t", "\r\n", " \n ", "a",
    "Hello world", "Hello  world", "Hello   world   ", "   leading", "trailing   ", "tab\tseparated\tvalues",
    "new\nline", "several\n\n\nnewlines", "mixed \t\n whitespace", "I'm", "you're", "they've", "we'll", "he'd",
    "it's", "IT'S", "don't", "DON'T", "o'clock", "rock 'n' roll", "'s", "''", "'ll've", "y'all'd've",
    "3.14159", "1,000,000", "2024-01-01", "0x1F", "1e-10", "100%", "$42.50", "+33 6 12 34 56 78", "١٢٣٤",
    "½ ¾ ² ³", "Ⅻ", "①②③", "café", "naïve", "Ångström", "Straße", "Ελληνικά", "Русский текст", "中文字符",
    "日本語のテキスト", "한국어", "العربية", "हिन्दी", "ไทย", "עברית", "emoji 🎉", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇩🇪",
    "❤️", "☃", "🤖🧠", "a😀b", "...", "?!?!", "---", "=>", "(){}[]", "<|endoftext|>", "@user #tag",
    "https://example.org/path?q=1&r=2", "user@example.com", "C:\\Windows\\System32", "snake_case_name",
    "camelCaseName", "SCREAMING_CASE", "def f(x):\n    return x ** 2\n", "for (int i = 0; i < n; ++i) {}",
    "<div class=\"x\">text</div>", "\"quoted\"", "'single'", "«guillemets»", "„Anführungszeichen“",
    "non\u00a0breaking", "ideographic\u3000space", "zero\u200bwidth", "bom\ufeffinside", "nel\u0085char",
    "a\ufeff\ufeffb", "a\u0085\u0085b", "x\u00a0\u00a0\u00a0y", "\u3000\u3000z", "en\u2002space", "line\u2028sep", "soft\u00adhyphen", "a\u0301cute", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇", "x" * 300,
    " " * 40 + "word", "word" + " " * 40, "!" * 50, "1234567890" * 8, "galaxy asteroid comet cosmos space sun",
    # the special tokens of the families' tokenizers, written as text
    "<s>", "</s>", "<unk>", "<s>The next word is galaxy</s>", " <s> spaced </s> ", "[CLS]", "[SEP]", "[MASK]",
    "[CLS] the [MASK] is [SEP]", "the [MASK]", "<|endoftext|>text<|endoftext|>", "<|padding|>", "<|im_start|>user",
    "assistant", "an assistant said", "RWKV", "<0x41>", "\u2581word", "\u2581\u2581", "\u2581 \u2581",
]

BLOCKS = [(0x20, 0x7E), (0xA0, 0xFF), (0x100, 0x17F), (0x391, 0x3C9), (0x410, 0x44F), (0x4E00, 0x4FFF),
          (0x3041, 0x3096), (0xAC00, 0xAD00), (0x620, 0x64A), (0x900, 0x97F), (0x1F300, 0x1F5FF),
          (0x2000, 0x206F), (0x30, 0x39), (0x660, 0x669), (0x2460, 0x2473)]
SEPARATORS = [" ", "  ", "\t", "\n", "", " \n", "\u00a0", ", ", ". ", "'", "\u3000"]
WORDS = ["the", "The", "galaxy", "sofa", "banana", "cosmos", "quantum", "don't", "it's", "42", "3.5",
         "naïve", "东京", "мир", "🙂", "—", "...", "ok?", "state-of-the-art", "e.g.", "U.S.A.", "x86_64"]


def random_text(rng):
    kind = rng.random()
    if kind < 0.4:  # words and separators
        parts = [rng.choice(WORDS + HAND_WRITTEN[:60]) for _ in range(rng.randint(1, 8))]
        return "".join(p + rng.choice(SEPARATORS) for p in parts)
    if kind < 0.7:  # code points from one or two blocks, with whitespace mixed in
        out = []
        for _ in range(rng.randint(1, 30)):
            lo, hi = rng.choice(BLOCKS)
            out.append(chr(rng.randint(lo, hi)) if rng.random() > 0.15 else rng.choice(SEPARATORS))
        return "".join(out)
    if kind < 0.85:  # whitespace runs around words
        return "".join(rng.choice([" " * rng.randint(1, 5), "\n" * rng.randint(1, 3), rng.choice(WORDS)])
                       for _ in range(rng.randint(1, 10)))
    return "".join(rng.choice("0123456789.,-+eE ") for _ in range(rng.randint(1, 25)))  # numbers


def corpus(n=6000, seed=20261127):
    rng = random.Random(seed)
    texts = list(HAND_WRITTEN)
    while len(texts) < n:
        texts.append(random_text(rng))
    return texts
