// Resumption with recall: two turns, keep the last handle, reconnect with it
// and ask what the last question was.  node resume.mjs BASE_URL [BASE_URL_2]
import { open, run, turn, userText, genai } from './_common.mjs';

run(async () => {
  const first = await open(process.argv[2], {
    responseModalities: [genai.Modality.TEXT],
    sessionResumption: {},
  });
  const texts = [];
  for (const prompt of ['Hello', 'What is the capital of Brazil?']) {
    first.session.sendClientContent(userText(prompt));
    texts.push((await turn(first.next)).text);
  }
  // The handle that covers the last turn arrives after its turnComplete.
  const update = await first.next(
    (m) => m.sessionResumptionUpdate?.resumable && m.sessionResumptionUpdate?.newHandle,
  );
  const handle = update.sessionResumptionUpdate.newHandle;
  first.session.close();

  const second = await open(process.argv[3] || process.argv[2], {
    responseModalities: [genai.Modality.TEXT],
    sessionResumption: { handle },
  });
  second.session.sendClientContent(userText('what was the last question I asked?'));
  const recall = (await turn(second.next)).text;
  second.session.close();
  return { texts, handle, recall };
});
