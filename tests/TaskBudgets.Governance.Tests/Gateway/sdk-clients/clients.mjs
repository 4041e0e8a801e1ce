// The providers' official SDKs, unmodified, pointed at the TaskBudgets gateway: only the base URL
// changes, the API key is the caller's tb_ key, and x-taskbudgets-* headers say what the call is.
// Usage: node clients.mjs <scenario>, with GATEWAY (base URL), TB_KEY, ORG and TEST (a label the
// stub upstream records) in the environment. Prints one line "RESULT <json>".
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { GoogleGenAI } from '@google/genai';

const { GATEWAY, TB_KEY, ORG, TEST } = process.env;
const scenario = process.argv[2];
const stubScenario = process.argv[3] ?? 'ok';
const headers = {
  'x-taskbudgets-org': ORG,
  'x-taskbudgets-task-type': 'support',
  'x-taskbudgets-principal': 'user-1',
  'x-stub-test': TEST,
  'x-stub-scenario': stubScenario,
};
const messages = [{ role: 'user', content: 'Say hello.' }];

const anthropic = (maxRetries = 0) => new Anthropic({ apiKey: TB_KEY, baseURL: GATEWAY, defaultHeaders: headers, maxRetries });
const openai = (maxRetries = 0) => new OpenAI({ apiKey: TB_KEY, baseURL: `${GATEWAY}/v1`, defaultHeaders: headers, maxRetries });
const gemini = () => new GoogleGenAI({ apiKey: TB_KEY, httpOptions: { baseUrl: GATEWAY, headers } });

async function failure(call) {
  try {
    await call();
    return { failed: false };
  } catch (e) {
    return { failed: true, status: e.status, error: e.error ?? null, message: e.message, retryAfter: e.headers?.get?.('retry-after') ?? null };
  }
}

const scenarios = {
  'anthropic-plain': async () => {
    const message = await anthropic().messages.create({
      model: 'claude-test', max_tokens: 16000, thinking: { type: 'enabled', budget_tokens: 8000 }, messages,
    });
    return { text: message.content[0].text, usage: message.usage, stop: message.stop_reason };
  },
  'anthropic-small': async () => {
    const message = await anthropic().messages.create({ model: 'claude-test', max_tokens: 500, messages });
    return { text: message.content[0].text, usage: message.usage };
  },
  'anthropic-stream': async () => {
    const stream = anthropic().messages.stream({ model: 'claude-test', max_tokens: 64000, messages });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const message = await stream.finalMessage();
    return { text, usage: message.usage, stop: message.stop_reason };
  },
  'anthropic-cut': async () => {
    const stream = await anthropic().messages.create({ model: 'claude-test', max_tokens: 64000, messages, stream: true });
    let deltas = 0;
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && ++deltas === 3) {
        break; // leaves mid-answer: the SDK aborts the request
      }
    }
    return { deltas };
  },
  'anthropic-retry': async () => {
    const message = await anthropic(2).messages.create({ model: 'claude-test', max_tokens: 1000, messages });
    return { text: message.content[0].text, usage: message.usage };
  },
  'anthropic-fail': async () => failure(() => anthropic().messages.create({ model: 'claude-test', max_tokens: 1000, messages })),
  'anthropic-denied': async () => failure(() => anthropic(2).messages.create({ model: 'claude-test', max_tokens: 1000, messages })),
  'openai-chat': async () => {
    const completion = await openai().chat.completions.create({
      model: 'gpt-test', messages, max_completion_tokens: 50000, reasoning_effort: 'high',
    });
    return { text: completion.choices[0].message.content, usage: completion.usage, stop: completion.choices[0].finish_reason };
  },
  'openai-chat-stream': async () => {
    const stream = await openai().chat.completions.create({ model: 'gpt-test', messages, stream: true });
    let text = '';
    let usage = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      usage = chunk.usage ?? usage;
    }
    return { text, usage };
  },
  'openai-responses': async () => {
    const response = await openai().responses.create({ model: 'gpt-test', input: 'Say hello.', max_output_tokens: 50000, reasoning: { effort: 'low' } });
    return { text: response.output_text, usage: response.usage };
  },
  'openai-responses-stream': async () => {
    const stream = await openai().responses.create({ model: 'gpt-test', input: 'Say hello.', stream: true });
    let text = '';
    let usage = null;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') usage = event.response.usage;
    }
    return { text, usage };
  },
  'openai-denied': async () => failure(() => openai().chat.completions.create({ model: 'gpt-test', messages })),
  'gemini': async () => {
    const response = await gemini().models.generateContent({
      model: 'gemini-test', contents: 'Say hello.', config: { maxOutputTokens: 100000, thinkingConfig: { thinkingBudget: 20000 } },
    });
    return { text: response.text, usage: response.usageMetadata };
  },
  'gemini-stream': async () => {
    const stream = await gemini().models.generateContentStream({ model: 'gemini-test', contents: 'Say hello.' });
    let text = '';
    let usage = null;
    for await (const chunk of stream) {
      text += chunk.text ?? '';
      usage = chunk.usageMetadata ?? usage;
    }
    return { text, usage };
  },
  'gemini-denied': async () => failure(() => gemini().models.generateContent({ model: 'gemini-test', contents: 'Say hello.' })),
};

const run = scenarios[scenario];
if (!run) {
  console.error(`unknown scenario ${scenario}; one of ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
console.log('RESULT ' + JSON.stringify(await run()));
