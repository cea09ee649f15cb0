// Three turns on one session, one WAV file each.  node turns.mjs BASE_URL OUTDIR
import { join } from 'node:path';
import { open, run, turn, userText, writeWav, genai } from './_common.mjs';

const PROMPTS = [
  'Hello? Gemini are you there?',
  'Can you tell me a joke?',
  'What is the weather like today?',
];

run(async () => {
  const { session, next } = await open(process.argv[2], {
    responseModalities: [genai.Modality.AUDIO],
  });
  const files = [];
  for (const [i, prompt] of PROMPTS.entries()) {
    session.sendClientContent(userText(prompt));
    const reply = await turn(next);
    const path = join(process.argv[3], `turn${i + 1}.wav`);
    writeWav(path, reply.audio, reply.mime);
    files.push(path);
  }
  session.close();
  return { files };
});
