// AudioWorklet processor "pcm-capture": microphone audio to the page in packets, in order.
//
// The audio thread hands process() 128-frame render quanta. Sending each one would be a
// websocket message every 2.7 ms, so they are copied, in order and unchanged, into a packet of
// `packetFrames` frames (20-100 ms), which is posted to the page as a transferable buffer (no
// copy). Nothing is resampled here: the page tells the server the context's true sample rate
// and the server's band-limited resampler does the work. The node is created with
// channelCount 1 ("explicit", "speakers"), so Web Audio has already down-mixed to mono.
//
// Messages from the page: {type: "flush", session} posts what is buffered (possibly a short
// packet), then {type: "flushed", session}; the page sends eof after that, so the last words
// are not lost. {type: "reset"} drops what is buffered, at the start of a new session.

const RENDER_QUANTUM = 128; // frames per process() call (Web Audio's fixed block size)

class PcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const frames = options.processorOptions.packetFrames;
    if (!(frames >= RENDER_QUANTUM)) {
      throw new RangeError(`packetFrames must be at least ${RENDER_QUANTUM}, got ${frames}`);
    }
    this.packetFrames = frames;
    this.packet = new Float32Array(frames);
    this.filled = 0; // frames of this.packet already written
    this.port.onmessage = (message) => {
      if (message.data.type === "flush") {
        this.post(this.filled);
        this.port.postMessage({ type: "flushed", session: message.data.session });
      } else if (message.data.type === "reset") {
        this.filled = 0; // a new session: the half packet of the last one is stale
      }
    };
  }

  // Send the first `frames` frames of the packet and start a new one.
  post(frames) {
    if (frames > 0) {
      const out = frames === this.packetFrames ? this.packet : this.packet.slice(0, frames);
      this.port.postMessage(out, [out.buffer]); // transferred, not copied
    }
    // A transferred buffer is detached, so each packet needs a fresh one (a few per second).
    this.packet = new Float32Array(this.packetFrames);
    this.filled = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    // No input connected yet (or the track ended): nothing to capture this quantum.
    if (channels.length === 0) return true;
    const samples = channels[0]; // mono, see above
    let offset = 0;
    while (offset < samples.length) {
      const count = Math.min(samples.length - offset, this.packetFrames - this.filled);
      this.packet.set(samples.subarray(offset, offset + count), this.filled); // forward order
      this.filled += count;
      offset += count;
      if (this.filled === this.packetFrames) this.post(this.filled);
    }
    return true; // keep running until the page disconnects the node
  }
}

registerProcessor("pcm-capture", PcmCapture);
