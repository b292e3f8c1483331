// openai_embeddings.mjs BASE_URL FIRST0 FIRST1 TEXT0 TEXT1 - the official
// openai npm package against bitnet-run --server's /v1/embeddings
// (tests/server/embeddings.sh), with the client's default base64 encoding:
// prints "ok" when the first value of each embedding is the CLI's (FIRST0,
// FIRST1, as float32) and each has 512 values, else what it got.
import OpenAI from "openai";

const [baseURL, first0, first1, ...input] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0, timeout: 20000 });
const res = await client.embeddings.create({ model: "tiny-bitnet-embed", input });
const want = [Math.fround(Number(first0)), Math.fround(Number(first1))];
const got = res.data.map((d) => d.embedding[0]);
const ok = got.length === 2 && got.every((v, i) => v === want[i]) &&
  res.data.every((d) => d.embedding.length === 512) && res.usage.prompt_tokens > 0;
console.log(ok ? "ok" : JSON.stringify({ got, want, usage: res.usage }));
