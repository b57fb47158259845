import TensorEngine

/// Tensors by their PyTorch `state_dict` key, materialised on first use.
public struct StateDict: Sendable {
    public let source: String
    public let entries: [String: TensorEntry]

    public init(source: String, entries: [String: TensorEntry]) {
        self.source = source
        self.entries = entries
    }

    public init(safetensors path: String) throws {
        let file = try SafeTensorsFile(path: path)
        self.init(source: path, entries: file.entries)
    }

    public var keys: [String] { entries.keys.sorted() }
}

/// Why a strict load failed: every problem, by key name.
public struct WeightLoadingError: Error, CustomStringConvertible {
    public let source: String
    public let missing: [String]
    public let unexpected: [String]
    public let shapeMismatches: [(key: String, expected: [Int], found: [Int])]

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing \(missing.count) key(s): \(missing.prefix(8).joined(separator: ", "))\(missing.count > 8 ? ", ..." : "")") }
        if !unexpected.isEmpty { parts.append("unexpected \(unexpected.count) key(s): \(unexpected.prefix(8).joined(separator: ", "))\(unexpected.count > 8 ? ", ..." : "")") }
        if !shapeMismatches.isEmpty {
            parts.append("shape mismatch: " + shapeMismatches.prefix(8).map { "\($0.key) expected \($0.expected) found \($0.found)" }.joined(separator: "; "))
        }
        return "\(source): weights do not fit the model (\(parts.joined(separator: "; ")))"
    }
}

/// Hands a model its parameters by key and shape, recording every problem instead of stopping at the
/// first, so one error lists all missing/unexpected/mismatched keys. Models take parameters through
/// `callAsFunction(_:shape:)` while constructing themselves, then the caller calls `finish()`.
///
///     let loader = WeightLoader(stateDict)
///     let unet = UNet2DCondition(config: config, weights: loader)
///     try loader.finish()
public final class WeightLoader {
    public let stateDict: StateDict
    public let prefix: String
    private let record: Record

    final class Record {
        var used: Set<String> = []
        var missing: [String] = []
        var mismatches: [(key: String, expected: [Int], found: [Int])] = []
    }

    public init(_ stateDict: StateDict) {
        self.stateDict = stateDict
        self.prefix = ""
        self.record = Record()
    }

    private init(stateDict: StateDict, prefix: String, record: Record) {
        self.stateDict = stateDict
        self.prefix = prefix
        self.record = record
    }

    /// A loader whose keys are relative to `component` (joined with ".").
    public func scoped(_ component: String) -> WeightLoader {
        WeightLoader(stateDict: stateDict, prefix: prefix + component + ".", record: record)
    }

    public subscript(_ component: String) -> WeightLoader { scoped(component) }

    /// The tensor stored under `prefix + name`, which must have `shape`. A missing or mismatched
    /// tensor is recorded and a zero tensor of the expected shape is returned so loading continues.
    public func callAsFunction(_ name: String, shape: [Int]) -> Tensor {
        let key = prefix + name
        guard let entry = stateDict.entries[key] else {
            record.missing.append(key)
            return Tensor(zeros: shape)
        }
        record.used.insert(key)
        guard entry.shape == shape else {
            record.mismatches.append((key, shape, entry.shape))
            return Tensor(zeros: shape)
        }
        return entry.materialize()
    }

    /// Whether `prefix + name` exists (for optional parameters such as biases).
    public func contains(_ name: String) -> Bool { stateDict.entries[prefix + name] != nil }

    /// Throws a `WeightLoadingError` listing every missing, unexpected and mismatched key.
    /// `ignoring` filters unexpected keys that the reference also ignores (e.g. BatchNorm's `num_batches_tracked`).
    public func finish(ignoring: (String) -> Bool = { _ in false }) throws {
        let unexpected = stateDict.entries.keys.filter { !record.used.contains($0) && !ignoring($0) }.sorted()
        if !record.missing.isEmpty || !unexpected.isEmpty || !record.mismatches.isEmpty {
            throw WeightLoadingError(source: stateDict.source, missing: record.missing, unexpected: unexpected,
                                     shapeMismatches: record.mismatches)
        }
    }
}
