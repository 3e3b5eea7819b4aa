// The real Llama-2 and Llama-3 vocabularies of the npm packages llama-tokenizer-js and
// llama3-tokenizer-js, in two uses:
//   node llama_js.mjs MODULES tokenizer-json llama2|llama3 OUTDIR  writes the tokenizer.json that
//       Meta's Hugging Face folders have for that vocabulary (see build() below for the layout)
//   node llama_js.mjs MODULES encode llama2|llama3                 the package's own encoder (no BOS,
//       no EOS), one JSON string per line on stdin, one JSON array of ids per line on stdout
import fs from 'fs';
import path from 'path';
import { pathToFileURL } from 'url';

const [modules, mode, which, out] = process.argv.slice(2);
const file = which === 'llama2' ? 'llama-tokenizer-js/llama-tokenizer.js'
                                : 'llama3-tokenizer-js/bundle/llama3-tokenizer-with-baked-data.js';
const mod = await import(pathToFileURL(path.join(modules, file)));
const tokenizer = mod.default;

if (mode === 'encode') {
    console.log = () => {};  // llama-tokenizer-js reports byte fallbacks on stdout
    const lines = fs.readFileSync(0, 'utf-8').split('\n').filter((l) => l.length > 0);
    const encode = (t) => which === 'llama2' ? tokenizer.encode(t, false, true) : tokenizer.encode(t, { bos: false, eos: false });
    process.stdout.write(lines.map((l) => JSON.stringify(encode(JSON.parse(l)))).join('\n') + '\n');
} else {
    writeTokenizerJson();
}

function writeTokenizerJson() {
// The merges in priority order: the package keeps them in a Map keyed "left right" (insertion
// order is priority order); tokens of these vocabularies never contain a plain space.
const merges = [...tokenizer.merges.keys()].map((k) => { const at = k.indexOf(' '); return [k.slice(0, at), k.slice(at + 1)]; });
const vocab = Object.create(null);  // not {}: "constructor" is a token
tokenizer.vocabById.forEach((t, id) => { if (vocab[t] === undefined) vocab[t] = id; });
const special = (content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

function build() {
    if (which === 'llama2') {  // as Llama-2-7b-hf's tokenizer.json (the "legacy" sentencepiece layout)
        return {
            version: '1.0', truncation: null, padding: null,
            added_tokens: [special('<unk>', 0), special('<s>', 1), special('</s>', 2)],
            normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' },
                                                          { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
            pre_tokenizer: null,
            post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
                              pair: [], special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } },
            decoder: null,
            model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
                     fuse_unk: true, byte_fallback: true, vocab, merges },
        };
    }
    // as Meta-Llama-3-8B's tokenizer.json: Split with Llama-3's regex, byte-level, ignore_merges
    const regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    const ordinary = Object.fromEntries(Object.entries(vocab).filter(([, id]) => id < 128000));
    return {
        version: '1.0', truncation: null, padding: null,
        added_tokens: tokenizer.vocabById.slice(128000).map((t, i) => special(t, 128000 + i)),
        normalizer: null,
        pre_tokenizer: { type: 'Sequence', pretokenizers: [
            { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false },
            { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
        post_processor: { type: 'Sequence', processors: [
            { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
            { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
              pair: [], special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128000], tokens: ['<|begin_of_text|>'] } } }] },
        decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
        model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
                 fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab: ordinary, merges },
    };
}

fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'tokenizer.json'), JSON.stringify(build()));
fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify({ model_type: 'llama' }));
}
