import Foundation

/// Which files of a diffusers-layout repo the pipeline needs: the index, every config, the scheduler,
/// the tokenizer, and one set of weights per component, so a repo carrying the same weights as
/// safetensors, `.bin` and fp16 variants is downloaded once.
public enum ModelFileSelection {
    /// Weight file stems in order of preference (diffusers models, then transformers models).
    static let weightStems = ["diffusion_pytorch_model", "model", "pytorch_model"]

    /// The files to fetch from a repo listing. `variant` (e.g. "fp16") prefers `<stem>.<variant>.<ext>`
    /// and falls back to the plain files when a component has none.
    public static func select(from files: [String], variant: String? = nil) -> [String] {
        var selected: Set<String> = []
        var folders: Set<String> = [""]
        for file in files {
            let (folder, name) = split(file)
            if file == "model_index.json" || name == "config.json" || name == "scheduler_config.json"
                || folder.split(separator: "/").last?.hasPrefix("tokenizer") == true {
                selected.insert(file)
            }
            folders.insert(folder)
        }
        for folder in folders {
            let names = Set(files.filter { split($0).folder == folder }.map { split($0).name })
            selected.formUnion(weights(in: names, variant: variant).map { folder.isEmpty ? $0 : folder + "/" + $0 })
        }
        return selected.sorted()
    }

    /// One complete weight set among `names`: a single file or a shard index with its shards;
    /// safetensors before `.bin`, the variant before the plain name.
    static func weights(in names: Set<String>, variant: String?) -> [String] {
        let variants = (variant.map { ["." + $0] } ?? []) + [""]
        for fileExtension in ["safetensors", "bin"] {
            for suffix in variants {
                for stem in weightStems {
                    let single = "\(stem)\(suffix).\(fileExtension)"
                    if names.contains(single) { return [single] }
                    let index = single + ".index.json"
                    if names.contains(index) {
                        // transformers names shards <stem>-00001-of-00002<suffix>.<ext>; diffusers the same.
                        let shards = names.filter { $0.hasPrefix(stem + "-") && $0.hasSuffix("\(suffix).\(fileExtension)") && $0.contains("-of-") }
                        return [index] + shards.sorted()
                    }
                }
            }
        }
        return []
    }

    static func split(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }

    /// `fnmatch` semantics as huggingface_hub's allow_patterns use them: `*` and `?` also match `/`,
    /// `[...]` is a character class.
    public static func matches(_ path: String, pattern: String) -> Bool {
        let text = Array(path), glob = Array(pattern)
        var memo: [Int: Bool] = [:]
        func match(_ t: Int, _ g: Int) -> Bool {
            let key = t * (glob.count + 1) + g
            if let known = memo[key] { return known }
            let result: Bool
            if g == glob.count {
                result = t == text.count
            } else if glob[g] == "*" {
                result = match(t, g + 1) || (t < text.count && match(t + 1, g))
            } else if t == text.count {
                result = false
            } else if glob[g] == "?" {
                result = match(t + 1, g + 1)
            } else if glob[g] == "[", let close = glob[(g + 1)...].firstIndex(of: "]") {
                var members = glob[(g + 1)..<close]
                let negated = members.first == "!"
                if negated { members = members.dropFirst() }
                var found = false
                var i = members.startIndex
                while i < members.endIndex {
                    if i + 2 < members.endIndex, members[i + 1] == "-" {
                        if members[i] <= text[t], text[t] <= members[i + 2] { found = true }
                        i += 3
                    } else {
                        if members[i] == text[t] { found = true }
                        i += 1
                    }
                }
                result = found != negated && match(t + 1, close + 1)
            } else {
                result = glob[g] == text[t] && match(t + 1, g + 1)
            }
            memo[key] = result
            return result
        }
        return match(0, 0)
    }
}
