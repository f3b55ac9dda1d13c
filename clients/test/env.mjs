// What the Java harness (RealClientsTest) passes: where the proxy under test listens and which keys to send.
export const url = must('OQP_URL');
export const key = process.env.OQP_KEY || '';
export const adminKey = process.env.OQP_ADMIN_KEY || '';
export const chatModel = process.env.OQP_CHAT_MODEL || 'llama3';
export const embedModel = process.env.OQP_EMBED_MODEL || 'all-minilm';
export const pullModel = process.env.OQP_PULL_MODEL || 'tinyllama';

function must(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: these tests are run by the Java test suite (see clients/README.md)`);
  }
  return value;
}

export function bearer(k) {
  return k ? { Authorization: `Bearer ${k}` } : {};
}
