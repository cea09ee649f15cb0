// A tool round trip: the model calls get_weather, the client answers with
// sendToolResponse (echoing the call id), the model speaks the result as text.
// node tools.mjs BASE_URL
import { open, run, turn, userText, genai } from './_common.mjs';

run(async () => {
  const { session, next } = await open(process.argv[2], {
    responseModalities: [genai.Modality.TEXT],
    tools: [{
      functionDeclarations: [{
        name: 'get_weather',
        description: 'Get the current weather in a city',
        parameters: {
          type: genai.Type.OBJECT,
          properties: { city: { type: genai.Type.STRING } },
          required: ['city'],
        },
      }],
    }],
  });
  session.sendClientContent(userText('Get the weather in Paris, please.'));
  const asked = await turn(next);
  const call = asked.toolCall?.functionCalls?.[0];
  if (!call) throw new Error(`no tool call: ${JSON.stringify(asked)}`);
  session.sendToolResponse({
    functionResponses: [{ id: call.id, name: call.name, response: { output: 'sunny, 21 C' } }],
  });
  const reply = await turn(next);
  session.close();
  return { call: { id: call.id, name: call.name, args: call.args }, text: reply.text };
});
