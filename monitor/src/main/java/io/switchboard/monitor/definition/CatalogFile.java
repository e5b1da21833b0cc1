package io.switchboard.monitor.definition;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;

/**
 * The monitor file's YAML form: {@code channels}, {@code monitors}, {@code maintenance}. What
 * {@link #write} gives, {@link #read} reads back to the same catalog.
 */
public final class CatalogFile {
    /**
     * The largest file read, in characters. SnakeYAML's default (3 MB) is about 10,000 monitors of
     * the exported form; this allows about 200,000, and still refuses a file that is not a
     * monitor file at all before it fills the heap.
     */
    public static final int MAX_CHARACTERS = 64 * 1024 * 1024;
    private static final ObjectMapper YAML = new ObjectMapper(YAMLFactory.builder()
            .loaderOptions(loaderOptions())
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .enable(YAMLGenerator.Feature.INDENT_ARRAYS_WITH_INDICATOR)
            // a key written twice (two intervals, say) is a mistake, not "the last one wins" in silence
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build());

    private static LoaderOptions loaderOptions() {
        LoaderOptions options = new LoaderOptions();
        options.setCodePointLimit(MAX_CHARACTERS);
        return options;
    }

    private CatalogFile() {
    }

    /**
     * @param knownChannels channels that exist already, which monitors may use without the file defining them
     * @throws DefinitionException naming the item and field at fault, or the line of a YAML syntax error
     */
    public static Catalog read(String text, Set<String> knownChannels) {
        JsonNode root;
        try {
            root = text.isBlank() ? null : YAML.readTree(text);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()
                    + ", column " + e.getLocation().getColumnNr();
            throw DefinitionException.invalid(null, "not valid YAML" + where + ": "
                    + io.switchboard.platform.config.NodeConfigLoader.yamlProblem(e.getOriginalMessage()));
        }
        return DefinitionReader.catalog(root, knownChannels);
    }

    /** The catalog as YAML, secrets included: this is the file to import again, keep it private. */
    public static String write(Catalog catalog) {
        try {
            return YAML.writeValueAsString(DefinitionWriter.catalog(catalog, DefinitionWriter.Secrets.REVEAL));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the catalog as YAML", e);
        }
    }
}
