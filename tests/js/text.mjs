// text -> text: one question, the answer as text.  node text.mjs BASE_URL
import { open, run, turn, userText, genai } from './_common.mjs';

run(async () => {
  const { session, next } = await open(process.argv[2], {
    responseModalities: [genai.Modality.TEXT],
  });
  session.sendClientContent(userText('Hello? Gemini are you there?'));
  const reply = await turn(next);
  session.close();
  return { text: reply.text };
});
