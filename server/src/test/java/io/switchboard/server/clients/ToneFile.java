package io.switchboard.server.clients;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A WAV file of a 440 Hz tone, 8 kHz mono 16-bit PCM (what G.711 carries), as the audio a client
 * sends: baresip's built-in sine source fails with 8 kHz codecs, its {@code aufile} source and
 * linphonec's file mode play this instead, with no sound card.
 */
public final class ToneFile {
    private static final int RATE = 8000;

    private ToneFile() {
    }

    /** Writes {@code seconds} of tone to {@code file} (RIFF/WAVE header, then the samples) and returns it. */
    public static Path write(Path file, int seconds) throws IOException {
        int samples = RATE * seconds;
        int dataBytes = samples * 2;
        ByteBuffer b = ByteBuffer.allocate(44 + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(36 + dataBytes)
                .put("WAVE".getBytes(java.nio.charset.StandardCharsets.US_ASCII))
                .put("fmt ".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(16)
                .putShort((short) 1)            // PCM
                .putShort((short) 1)            // mono
                .putInt(RATE).putInt(RATE * 2)  // byte rate
                .putShort((short) 2)            // block align
                .putShort((short) 16)           // bits per sample
                .put("data".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(dataBytes);
        for (int i = 0; i < samples; i++) {
            b.putShort((short) Math.round(8000 * Math.sin(2 * Math.PI * 440 * i / RATE)));
        }
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(b.array());
        }
        return file;
    }
}
