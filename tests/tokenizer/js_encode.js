// Reference token ids: the npm package gpt-3-encoder (GPT-2's encoder ported to JS).
// Reads one JSON string per line on stdin, prints one JSON array of ids per line.
const path = require('path');
const { encode } = require(path.join(process.argv[2], 'gpt-3-encoder'));
const lines = require('fs').readFileSync(0, 'utf-8').split('\n').filter(l => l.length > 0);
process.stdout.write(lines.map(l => JSON.stringify(encode(JSON.parse(l)))).join('\n') + '\n');
