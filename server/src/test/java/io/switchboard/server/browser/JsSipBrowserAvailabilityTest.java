package io.switchboard.server.browser;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What a browser test does when Chromium, node or the npm packages are missing: skip on a developer's machine, fail under CI=true. */
class JsSipBrowserAvailabilityTest {
    @TempDir
    Path dir;

    @Test
    void eachMissingPieceIsNamedWithHowToGetIt() throws Exception {
        Path node = Files.createFile(dir.resolve("node"));
        Path chromium = Files.createFile(dir.resolve("chromium"));
        Path project = Files.createDirectories(dir.resolve("browser"));
        assertThat(JsSipBrowser.missing(Optional.empty(), chromium, project)).hasValueSatisfying(
                m -> assertThat(m).contains("node not found"));
        assertThat(JsSipBrowser.missing(Optional.of(node), dir.resolve("absent"), project)).hasValueSatisfying(
                m -> assertThat(m).contains("Debian package chromium").contains("CHROMIUM_BIN"));
        chromium.toFile().setExecutable(true);
        assertThat(JsSipBrowser.missing(Optional.of(node), chromium, project)).hasValueSatisfying(
                m -> assertThat(m).contains("npm package playwright-core").contains("npm ci"));
        for (String pkg : new String[] {"playwright-core", "jssip", "esbuild"}) {
            Files.createDirectories(project.resolve("node_modules").resolve(pkg));
        }
        assertThat(JsSipBrowser.missing(Optional.of(node), chromium, project)).isEmpty();
    }

    @Test
    void somethingMissingFailsUnderCiAndSkipsOutside() {
        assertThatThrownBy(() -> JsSipBrowser.assumeAvailable(Optional.of("node not found"), true))
                .isInstanceOf(AssertionFailedError.class)
                .hasMessageContaining("node not found").hasMessageContaining("CI=true");
        assertThatThrownBy(() -> JsSipBrowser.assumeAvailable(Optional.of("node not found"), false))
                .isInstanceOf(TestAbortedException.class).hasMessageContaining("node not found");
        assertThatCode(() -> JsSipBrowser.assumeAvailable(Optional.empty(), true)).doesNotThrowAnyException();
    }
}
