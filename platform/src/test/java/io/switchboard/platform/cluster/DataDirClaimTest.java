package io.switchboard.platform.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A data directory's claim: its id is made once and kept, so a restart from the same directory
 * is the same claim; a damaged or unreadable id file is made again (costing only the wait for
 * the expiry after a crash); the path is the canonical one, so a link to the directory is it.
 */
class DataDirClaimTest {
    @TempDir
    Path dir;

    @Test
    void theIdIsMadeOnceAndKept() throws Exception {
        DataDirClaim first = DataDirClaim.of(dir);
        assertThat(first.id()).matches("[0-9a-f-]{36}");
        assertThat(Files.readString(dir.resolve(DataDirClaim.FILE))).isEqualTo(first.id() + "\n");
        assertThat(DataDirClaim.of(dir)).isEqualTo(first);
        assertThat(first.path()).isEqualTo(dir.toRealPath().toString());
        assertThat(first.host()).isNotBlank();
    }

    @Test
    void aLinkToTheDirectoryIsTheSameClaim() throws Exception {
        Path data = Files.createDirectory(dir.resolve("data"));
        Path link = Files.createSymbolicLink(dir.resolve("link"), data);
        assertThat(DataDirClaim.of(link)).isEqualTo(DataDirClaim.of(data));
    }

    @Test
    void aDamagedOrUnreadableIdIsMadeAgain() throws Exception {
        Files.writeString(dir.resolve(DataDirClaim.FILE), "not an id\n");
        DataDirClaim remade = DataDirClaim.of(dir);
        assertThat(remade.id()).matches("[0-9a-f-]{36}");
        assertThat(DataDirClaim.of(dir).id()).as("kept from then on").isEqualTo(remade.id());

        Files.write(dir.resolve(DataDirClaim.FILE), new byte[] {(byte) 0xff, (byte) 0xfe, 0x00});
        DataDirClaim again = DataDirClaim.of(dir);
        assertThat(again.id()).matches("[0-9a-f-]{36}").isNotEqualTo(remade.id());
    }
}
