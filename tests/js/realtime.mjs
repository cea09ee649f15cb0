// Realtime audio in, spoken answer out, both transcribed: 16 kHz PCM chunks
// with sendRealtimeInput, then audioStreamEnd.  node realtime.mjs BASE_URL OUT.wav
import { open, run, turn, writeWav, genai } from './_common.mjs';

function tone(ms, rate = 16000) {
  const samples = Buffer.alloc((rate * ms) / 1000 * 2);
  for (let i = 0; i < samples.length / 2; i++) {
    samples.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), i * 2);
  }
  return samples;
}

run(async () => {
  const { session, next } = await open(process.argv[2], {
    responseModalities: [genai.Modality.AUDIO],
    inputAudioTranscription: {},
    outputAudioTranscription: {},
  });
  const pcm = tone(1000);
  const step = 3200; // 100 ms at 16 kHz
  for (let offset = 0; offset < pcm.length; offset += step) {
    session.sendRealtimeInput({
      audio: { data: pcm.subarray(offset, offset + step).toString('base64'),
               mimeType: 'audio/pcm;rate=16000' },
    });
  }
  session.sendRealtimeInput({ audioStreamEnd: true });
  const reply = await turn(next);
  session.close();
  const rate = writeWav(process.argv[3], reply.audio, reply.mime);
  return { input: reply.input, output: reply.output, rate, chunks: reply.audio.length };
});
