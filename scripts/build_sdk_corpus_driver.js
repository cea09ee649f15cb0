// Drives @google/genai's live.connect and every send* method for
// scripts/build_sdk_corpus.py (see its docstring). Usage: node THIS_FILE PORT
const {GoogleGenAI} = require('@google/genai');
const port = process.argv[process.argv.length - 1];
const ai = new GoogleGenAI({apiKey: 'corpus-key',
  httpOptions: {baseUrl: `http://127.0.0.1:${port}`, apiVersion: 'v1beta'}});
const pcm = Buffer.from([0xfb, 0xff, 0x00, 0x01, 0xff, 0xfe, 0xfb]).toString('base64');
const fd = {name: 'get_weather', description: 'Weather for a city', parameters: {
  type: 'OBJECT', properties: {city_name: {type: 'STRING'}}, required: ['city_name']}};
const configs = [
  ['{}', {}],
  ['{responseModalities: [TEXT], sessionResumption: {}}',
   {responseModalities: ['TEXT'], sessionResumption: {}}],
  ["{contextWindowCompression: {triggerTokens: '1000', slidingWindow: {targetTokens: '10'}}}",
   {contextWindowCompression: {triggerTokens: '1000', slidingWindow: {targetTokens: '10'}}}],
  ['{speechConfig, transcription, realtimeInputConfig, systemInstruction, tools}', {
    responseModalities: ['AUDIO'], temperature: 0.5, maxOutputTokens: 256,
    speechConfig: {voiceConfig: {prebuiltVoiceConfig: {voiceName: 'Kore'}}},
    inputAudioTranscription: {}, outputAudioTranscription: {},
    realtimeInputConfig: {automaticActivityDetection: {disabled: true}},
    systemInstruction: 'You are terse.',
    tools: [{functionDeclarations: [fd]}, {googleSearch: {}}, {codeExecution: {}}]}],
];
const sends = [
  ['sendClientContent({turns: text})', (s) => s.sendClientContent({turns: 'Hello'})],
  ['sendClientContent({turns: [...], turnComplete: false})', (s) => s.sendClientContent({
    turns: [{role: 'user', parts: [{text: 'Hi'}]}, {role: 'model', parts: [{text: 'Hello!'}]}],
    turnComplete: false})],
  ['sendClientContent({turns: inlineData})', (s) => s.sendClientContent({
    turns: [{role: 'user', parts: [{inlineData: {data: pcm, mimeType: 'image/jpeg'}}]}]})],
  ['sendRealtimeInput({audio})', (s) => s.sendRealtimeInput({
    audio: {data: pcm, mimeType: 'audio/pcm;rate=16000'}})],
  ['sendRealtimeInput({video})', (s) => s.sendRealtimeInput({
    video: {data: pcm, mimeType: 'image/jpeg'}})],
  ['sendRealtimeInput({media})', (s) => s.sendRealtimeInput({
    media: {data: pcm, mimeType: 'audio/pcm'}})],
  ['sendRealtimeInput({text})', (s) => s.sendRealtimeInput({text: 'Hi'})],
  ['sendRealtimeInput({activityStart})', (s) => s.sendRealtimeInput({activityStart: {}})],
  ['sendRealtimeInput({activityEnd})', (s) => s.sendRealtimeInput({activityEnd: {}})],
  ['sendRealtimeInput({audioStreamEnd})', (s) => s.sendRealtimeInput({audioStreamEnd: true})],
  ['sendToolResponse({functionResponses})', (s) => s.sendToolResponse({functionResponses: {
    id: 'function-call-1', name: 'get_weather', response: {result: {temp_c: 21, sky: 'clear'}}}})],
  ['sendToolResponse({functionResponses: [..., ...]})', (s) => s.sendToolResponse({
    functionResponses: [{id: 'a', name: 'f', response: {output: [1, 2.5, null]}},
                        {id: 'b', name: 'g', response: {}}]})],
  ['sendContextUpdate({systemInstruction, tools})', (s) => s.sendContextUpdate({
    systemInstruction: 'Answer in French.', tools: [{functionDeclarations: [fd]}]})],
  ['sendContextUpdate({tools: []})', (s) => s.sendContextUpdate({tools: []})],
];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  const labels = [];
  for (const [label, config] of configs) {
    const session = await ai.live.connect({model: 'gemini-2.0-flash-live-001', config,
      callbacks: {onmessage: () => {}}});
    labels.push('live.connect(config=' + label + ')');
    await sleep(100);
    if (label === '{}') {
      for (const [sendLabel, call] of sends) {
        try { call(session); labels.push('session.' + sendLabel); }
        catch (e) { console.error('skip: ' + sendLabel + ': ' + e); }
      }
    }
    await sleep(100);
    session.close();
    await sleep(100);
  }
  console.log(JSON.stringify(labels));
  process.exit(0);
})();
