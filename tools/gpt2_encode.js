// GPT-2's encoder as OpenAI published it, ported to JS (the npm package gpt-3-encoder): the
// token ids the demo model is trained on (tools/train_demo_model.py) and the tests' reference for
// laminar's byte-level BPE. Reads one JSON string per line on stdin, prints one JSON array of ids
// per line. The node_modules folder is tools/node_modules (tools/setup.sh), or the first argument.
const path = require('path');
const modules = process.argv[2] || path.join(__dirname, 'node_modules');
const { encode } = require(path.join(modules, 'gpt-3-encoder'));
const lines = require('fs').readFileSync(0, 'utf-8').split('\n').filter(l => l.length > 0);
process.stdout.write(lines.map(l => JSON.stringify(encode(JSON.parse(l)))).join('\n') + '\n');
