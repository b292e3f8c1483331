// openai_client.mjs BASE_URL PROMPT N - the official openai npm package
// against bitnet-run --server (tests/test_server.c): a greedy completion
// and a streamed chat; prints {"completion": TEXT, "chat": TEXT}.
import OpenAI from "openai";

const [baseURL, prompt, n] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0, timeout: 20000 });

const completion = await client.completions.create({
  model: "bitnet-tiny.gguf", prompt, max_tokens: Number(n), temperature: 0,
});
const stream = await client.chat.completions.create({
  model: "bitnet-tiny.gguf", messages: [{ role: "user", content: "Hello" }],
  max_tokens: 8, stream: true,
});
let chat = "";
for await (const chunk of stream) chat += chunk.choices[0]?.delta?.content ?? "";
console.log(JSON.stringify({ completion: completion.choices[0].text, chat }));
