// clients.mjs BASE_URL - real client libraries against bitnet-run --server
// (tests/test_server.c): the official openai package (a chat, a streamed
// chat, chat logprobs, streamed completion logprobs, a json_schema
// response_format whose reply JSON.parse reads, tool calls whole and
// streamed) and LangChain's
// ChatOpenAI (invoke and stream), each with the options they send by
// default. Prints one JSON object of what each got.
import OpenAI from "openai";
import { ChatOpenAI } from "@langchain/openai";

const [baseURL] = process.argv.slice(2);
const model = "bitnet-tiny.gguf";
const messages = [
  { role: "system", content: "You are a helpful assistant." },
  { role: "user", content: "What is the capital of France?" },
];
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0, timeout: 20000 });
const out = {};

const chat = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0 });
out.chat = chat.choices[0].message.content;

let streamed = "";
const stream = await client.chat.completions.create({
  model, messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true },
});
for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? "";
out.chat_stream = streamed;

const lp = await client.chat.completions.create({
  model, messages, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 2,
});
const content = lp.choices[0].logprobs.content;
out.chat_logprobs = {
  text: content.map((t) => t.token).join(""),
  message: lp.choices[0].message.content,
  tops: content.map((t) => t.top_logprobs.length),
  greedy_is_best: content.every((t) => t.logprob === t.top_logprobs[0].logprob && t.logprob <= 0),
};

const cs = await client.completions.create({
  model, prompt: "Once upon a time", max_tokens: 6, temperature: 0, logprobs: 1, stream: true,
});
let ctext = "", ctokens = "";
for await (const chunk of cs) {
  ctext += chunk.choices[0]?.text ?? "";
  ctokens += (chunk.choices[0]?.logprobs?.tokens ?? []).join("");
}
out.completion_stream_logprobs = { text: ctext, tokens: ctokens };

// json_schema: the reply parses and is an instance of the schema
const js = await client.chat.completions.create({
  model, messages: [{ role: "user", content: "Is Paris in France?" }], max_tokens: 40, temperature: 0,
  response_format: {
    type: "json_schema",
    json_schema: {
      name: "answer", strict: true,
      schema: {
        type: "object", properties: { answer: { enum: ["yes", "no"] }, sure: { type: "boolean" } },
        required: ["answer", "sure"], additionalProperties: false,
      },
    },
  },
});
const parsed = JSON.parse(js.choices[0].message.content);
out.json_schema_valid = ["yes", "no"].includes(parsed.answer) && typeof parsed.sure === "boolean" &&
  Object.keys(parsed).length === 2;

// tools: a required call comes back as tool_calls, streamed and not
const tools = [{
  type: "function",
  function: {
    name: "get_weather", description: "The weather of a city",
    parameters: {
      type: "object", properties: { city: { enum: ["Paris", "Rome"] }, unit: { enum: ["c", "f"] } },
      required: ["city", "unit"],
    },
  },
}];
const call = await client.chat.completions.create({
  model, messages: [{ role: "user", content: "What is the weather in Paris?" }], max_tokens: 200,
  temperature: 0, tools, tool_choice: "required",
});
const tc = call.choices[0].message.tool_calls?.[0];
out.tool_call = {
  finish: call.choices[0].finish_reason, name: tc?.function?.name,
  city: tc ? JSON.parse(tc.function.arguments).city : null,
};
let streamedName = "";
const callStream = await client.chat.completions.create({
  model, messages: [{ role: "user", content: "What is the weather in Paris?" }], max_tokens: 200,
  temperature: 0, tools, tool_choice: { type: "function", function: { name: "get_weather" } }, stream: true,
});
for await (const chunk of callStream) {
  for (const t of chunk.choices[0]?.delta?.tool_calls ?? []) streamedName += t.function?.name ?? "";
}
out.tool_call_stream_name = streamedName;

const lc = new ChatOpenAI({
  model, apiKey: "unused", temperature: 0, maxTokens: 12, maxRetries: 0,
  configuration: { baseURL },
});
const lcMessages = messages.map((m) => [m.role, m.content]);
out.langchain_invoke = (await lc.invoke(lcMessages)).content;
let lcStreamed = "";
for await (const chunk of await lc.stream(lcMessages)) lcStreamed += chunk.content;
out.langchain_stream = lcStreamed;

console.log(JSON.stringify(out, null, 1));
