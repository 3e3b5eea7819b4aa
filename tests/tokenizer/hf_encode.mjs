// Reference token ids: tokenizers.js (npm @huggingface/tokenizers), `encode(text)` with its
// defaults, for the tokenizer.json (and tokenizer_config.json) in the folder argv[3].
// Reads one JSON string per line on stdin, prints one JSON array of ids per line.
import fs from 'fs';
import path from 'path';
import { pathToFileURL } from 'url';

const [modules, dir] = process.argv.slice(2);
const { Tokenizer } = await import(pathToFileURL(path.join(modules, '@huggingface/tokenizers/dist/tokenizers.mjs')));
const read = (f) => (fs.existsSync(path.join(dir, f)) ? JSON.parse(fs.readFileSync(path.join(dir, f), 'utf-8')) : {});
const tokenizer = new Tokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
const lines = fs.readFileSync(0, 'utf-8').split('\n').filter((l) => l.length > 0);
process.stdout.write(lines.map((l) => JSON.stringify(tokenizer.encode(JSON.parse(l)).ids)).join('\n') + '\n');
