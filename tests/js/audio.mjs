// text -> 24 kHz WAV: one question, the spoken answer saved as a WAV file.
// node audio.mjs BASE_URL OUT.wav
import { open, run, turn, userText, writeWav, genai } from './_common.mjs';

run(async () => {
  const { session, next } = await open(process.argv[2], {
    responseModalities: [genai.Modality.AUDIO],
  });
  session.sendClientContent(userText('Hello? Gemini are you there?'));
  const reply = await turn(next);
  session.close();
  const rate = writeWav(process.argv[3], reply.audio, reply.mime);
  return { mime: reply.mime, rate, chunks: reply.audio.length };
});
