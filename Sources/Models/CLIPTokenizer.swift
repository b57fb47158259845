// transformers' slow `CLIPTokenizer` (4.37) as the reference pipeline runs it without `ftfy`: added
// tokens split out first, then the BasicTokenizer fallback clean-up (control characters dropped,
// whitespace unified, CJK spaced, NFC, lower-cased), CLIP's pre-tokenisation pattern, byte-level BPE
// with `</w>` word ends, `<|startoftext|> ... <|endoftext|>`, truncation and padding. All text
// processing runs on Unicode scalars, as Python strings are code-point sequences.

import Foundation

/// Why a tokenizer folder cannot be used: the file and what was expected.
public struct CLIPTokenizerError: Error, CustomStringConvertible {
    public let file: String
    public let problem: String

    public var description: String { "\(file): \(problem)" }
}

public struct CLIPTokenizer: Sendable {
    /// Token string (in the byte-to-unicode alphabet) to id, from vocab.json.
    let vocabulary: [String: Int]
    /// Merge rank by pair, keyed "first second" as in merges.txt.
    let mergeRanks: [String: Int]
    /// Tokens matched verbatim in the raw text before any clean-up (special and added tokens), by id.
    let addedTokens: [(text: [Unicode.Scalar], id: Int)]
    public let bosTokenID: Int
    public let eosTokenID: Int
    public let padTokenID: Int
    let unknownTokenID: Int
    public let modelMaxLength: Int

    /// The reference reads at most this many merges (`49152 - 256 - 2`: CLIP's vocabulary minus bytes and specials).
    static let mergeLimit = 49152 - 256 - 2
    static let startOfText = "<|startoftext|>"
    static let endOfText = "<|endoftext|>"

    /// Reads `vocab.json`, `merges.txt` and, when present, `tokenizer_config.json` and `special_tokens_map.json`.
    public init(directory: URL) throws {
        func read(_ name: String) throws -> Data {
            let url = directory.appendingPathComponent(name)
            do { return try Data(contentsOf: url) } catch {
                throw CLIPTokenizerError(file: url.path, problem: "cannot read (\(error.localizedDescription))")
            }
        }
        func json(_ name: String) throws -> [String: Any]? {
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { return nil }
            guard let object = try? JSONSerialization.jsonObject(with: try read(name)) as? [String: Any] else {
                throw CLIPTokenizerError(file: url.path, problem: "expected a JSON object")
            }
            return object
        }

        let vocabularyPath = directory.appendingPathComponent("vocab.json").path
        guard let vocabulary = try? JSONSerialization.jsonObject(with: try read("vocab.json")) as? [String: Int] else {
            throw CLIPTokenizerError(file: vocabularyPath, problem: "expected a JSON object of token -> id")
        }
        self.vocabulary = vocabulary

        let mergesPath = directory.appendingPathComponent("merges.txt").path
        guard let mergesText = String(data: try read("merges.txt"), encoding: .utf8) else {
            throw CLIPTokenizerError(file: mergesPath, problem: "not UTF-8 text")
        }
        // Like the reference: strip, split on newlines, skip the "#version" header line.
        let lines = mergesText.trimmingCharacters(in: .whitespacesAndNewlines)
            .split(separator: "\n", omittingEmptySubsequences: false).dropFirst().prefix(Self.mergeLimit)
        var mergeRanks: [String: Int] = [:]
        for (rank, line) in lines.enumerated() {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else {
                throw CLIPTokenizerError(file: mergesPath, problem: "line \(rank + 2): expected two symbols, found \"\(line)\"")
            }
            // A repeated pair keeps its last rank, as the reference's dict(zip(merges, ranks)) does.
            mergeRanks[parts[0] + " " + parts[1]] = rank
        }
        self.mergeRanks = mergeRanks

        let config = try json("tokenizer_config.json") ?? [:]
        let specialTokens = try json("special_tokens_map.json") ?? [:]
        func content(_ value: Any?) -> String? {
            if let text = value as? String { return text }
            return (value as? [String: Any])?["content"] as? String
        }
        // special_tokens_map.json wins over tokenizer_config.json, as in `from_pretrained`.
        func special(_ key: String, _ fallback: String) -> String {
            content(specialTokens[key]) ?? content(config[key]) ?? fallback
        }
        var addedIDs: [String: Int] = [:]
        for (id, entry) in (config["added_tokens_decoder"] as? [String: Any]) ?? [:] {
            if let id = Int(id), let text = content(entry) { addedIDs[text] = id }
        }
        let unknown = special("unk_token", Self.endOfText)
        let names = [special("bos_token", Self.startOfText), special("eos_token", Self.endOfText), special("pad_token", Self.endOfText), unknown]
        let unknownID = addedIDs[unknown] ?? vocabulary[unknown]
        guard let unknownID else {
            throw CLIPTokenizerError(file: vocabularyPath, problem: "the unknown token \"\(unknown)\" is not in the vocabulary")
        }
        func id(_ token: String) -> Int { addedIDs[token] ?? vocabulary[token] ?? unknownID }
        unknownTokenID = unknownID
        bosTokenID = id(names[0])
        eosTokenID = id(names[1])
        padTokenID = id(names[2])
        var added = addedIDs
        for name in names { added[name] = id(name) }
        addedTokens = added.map { (Array($0.key.unicodeScalars), $0.value) }.filter { !$0.0.isEmpty }
            .sorted { $0.0.count > $1.0.count }
        let maxLength = (config["model_max_length"] as? NSNumber)?.doubleValue ?? 77
        modelMaxLength = maxLength >= 1 && maxLength < 1e6 ? Int(maxLength) : 77
    }

    /// Token ids of `text`: `[bos] + ids(text)[..<max-2] + [eos]`, padded with the pad token to `modelMaxLength`.
    public func encode(_ text: String) -> [Int] {
        var ids = [bosTokenID] + tokenIDs(text).prefix(max(modelMaxLength - 2, 0)) + [eosTokenID]
        if ids.count < modelMaxLength { ids += Array(repeating: padTokenID, count: modelMaxLength - ids.count) }
        return ids
    }

    /// The ids of `text` without special tokens, truncation or padding.
    public func tokenIDs(_ text: String) -> [Int] {
        var ids: [Int] = []
        for piece in splitOnAddedTokens(Array(text.unicodeScalars)) {
            switch piece {
            case .added(let id): ids.append(id)
            case .text(let scalars):
                for word in preTokenize(basicClean(scalars)) {
                    ids += bytePairEncode(word).map { vocabulary[$0] ?? unknownTokenID }
                }
            }
        }
        return ids
    }

    enum Piece {
        case added(Int)
        case text([Unicode.Scalar])
    }

    /// Splits out added tokens (longest match first, case-sensitive, on the raw text).
    func splitOnAddedTokens(_ text: [Unicode.Scalar]) -> [Piece] {
        var pieces: [Piece] = []
        var start = 0, position = 0
        while position < text.count {
            let match = addedTokens.first { token in
                position + token.text.count <= text.count && Array(text[position..<position + token.text.count]) == token.text
            }
            if let match {
                if start < position { pieces.append(.text(Array(text[start..<position]))) }
                pieces.append(.added(match.id))
                position += match.text.count
                start = position
            } else {
                position += 1
            }
        }
        if start < text.count { pieces.append(.text(Array(text[start...]))) }
        return pieces
    }

    // MARK: - BasicTokenizer fallback (no ftfy): strip_accents False, no punctuation splitting

    /// The clean-up text, as the words the reference joins with single spaces.
    func basicClean(_ text: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var cleaned = String.UnicodeScalarView()
        for scalar in text {
            if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
            if Self.isBasicWhitespace(scalar) {
                cleaned.append(" ")
            } else if Self.isCJK(scalar) {
                cleaned.append(" ")
                cleaned.append(scalar)
                cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        let normalized = Array(String(cleaned).precomposedStringWithCanonicalMapping.unicodeScalars)
        return normalized.split(whereSeparator: Self.isPythonSpace).map { Self.pythonLowercased(Array($0)) }
    }

    /// `_is_control`: Unicode category C*, except tab, newline and carriage return.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "\t" || scalar == "\n" || scalar == "\r" { return false }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned: return true
        default: return false
        }
    }

    /// `_is_whitespace`: space, tab, newline, carriage return or category Zs.
    static func isBasicWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" || scalar.properties.generalCategory == .spaceSeparator
    }

    /// Python's `str.isspace` (what `str.split()` and the pattern's `\s` split on).
    static func isPythonSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
    }

    /// The CJK ideograph blocks BasicTokenizer surrounds with spaces.
    static func isCJK(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// Python's `str.lower()`: full lower-case mappings, plus the Final_Sigma rule (capital sigma at
    /// the end of a word becomes "ς"), which per-scalar mappings lack.
    static func pythonLowercased(_ word: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        for (index, scalar) in word.enumerated() {
            if scalar.value == 0x3A3 && isFinalSigma(word, at: index) {
                result.append("\u{3C2}")
            } else {
                result += scalar.properties.lowercaseMapping.unicodeScalars
            }
        }
        return result
    }

    /// Final_Sigma: preceded by a cased letter and not followed by one (case-ignorable scalars skipped).
    static func isFinalSigma(_ word: [Unicode.Scalar], at index: Int) -> Bool {
        func casedNeighbour(_ indices: some Sequence<Int>) -> Bool {
            for i in indices {
                let properties = word[i].properties
                if properties.isCaseIgnorable { continue }
                return properties.isCased
            }
            return false
        }
        return casedNeighbour(stride(from: index - 1, through: 0, by: -1)) && !casedNeighbour(index + 1..<word.count)
    }

    // MARK: - Pre-tokenisation pattern and byte-level BPE

    static let contractions: [[Unicode.Scalar]] = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map { Array($0.unicodeScalars) }
    static let specialWords: [[Unicode.Scalar]] = [startOfText, endOfText].map { Array($0.unicodeScalars) }

    /// The matches of `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
    /// over the words joined by single spaces (alternatives tried in that order at each position).
    func preTokenize(_ words: [[Unicode.Scalar]]) -> [[Unicode.Scalar]] {
        let text = Array(words.joined(separator: [" "]))
        var matches: [[Unicode.Scalar]] = []
        var position = 0
        // The pattern is case-insensitive: after lower-casing that still lets "ſ" match "s".
        func startsWith(_ literal: [Unicode.Scalar]) -> Bool {
            position + literal.count <= text.count
                && zip(text[position..<position + literal.count], literal).allSatisfy { Self.simpleCaseFold($0) == $1 }
        }
        func run(while belongs: (Unicode.Scalar) -> Bool) -> Int {
            var end = position
            while end < text.count && belongs(text[end]) { end += 1 }
            return end
        }
        while position < text.count {
            let scalar = text[position]
            var end = position
            if let literal = (Self.specialWords + Self.contractions).first(where: startsWith) {
                end = position + literal.count
            } else if Self.isLetter(scalar) {
                end = run(while: Self.isLetter)
            } else if Self.isNumber(scalar) {
                end = position + 1
            } else if !Self.isPythonSpace(scalar) {
                end = run { !Self.isPythonSpace($0) && !Self.isLetter($0) && !Self.isNumber($0) }
            }
            if end > position {
                matches.append(Array(text[position..<end]))
                position = end
            } else {
                position += 1
            }
        }
        return matches
    }

    /// Simple case folding of the lower-case scalars that fold onto the pattern's ASCII literals.
    static func simpleCaseFold(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar {
        case "\u{17F}": return "s"
        case "\u{212A}": return "k"
        default: return scalar
        }
    }

    static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// GPT-2's reversible byte -> printable scalar table: printable Latin-1 bytes map to themselves,
    /// the others to 256, 257, ... in byte order.
    static let byteAlphabet: [Unicode.Scalar] = {
        let printable = Set(Array(33...126) + Array(161...172) + Array(174...255))
        var next: UInt32 = 256
        return (0..<256).map { byte in
            if printable.contains(byte) { return Unicode.Scalar(UInt32(byte))! }
            defer { next += 1 }
            return Unicode.Scalar(next)!
        }
    }()

    /// BPE symbols of one pre-token: its UTF-8 bytes in the byte alphabet, "</w>" on the last symbol,
    /// then the lowest-ranked adjacent pair merged everywhere until no pair has a rank.
    func bytePairEncode(_ token: [Unicode.Scalar]) -> [String] {
        let raw = String(String.UnicodeScalarView(token))
        if Self.specialWords.contains(token) { return [raw] }
        var word = raw.utf8.map { String(Character(Self.byteAlphabet[Int($0)])) }
        guard !word.isEmpty else { return [] }
        word[word.count - 1] += "</w>"
        while word.count > 1 {
            var best: (rank: Int, first: String, second: String)?
            for i in 0..<word.count - 1 {
                if let rank = mergeRanks[word[i] + " " + word[i + 1]], rank < best?.rank ?? Int.max {
                    best = (rank, word[i], word[i + 1])
                }
            }
            guard let best else { break }
            var merged: [String] = []
            var i = 0
            while i < word.count {
                if i < word.count - 1 && word[i] == best.first && word[i + 1] == best.second {
                    merged.append(best.first + best.second)
                    i += 2
                } else {
                    merged.append(word[i])
                    i += 1
                }
            }
            word = merged
        }
        return word
    }
}
