import Foundation
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

    /// A `torch.save` zip checkpoint (`.pth`, `.pt`, `.bin`), read without executing its pickle.
    public init(pytorchCheckpoint path: String) throws {
        let checkpoint = try TorchCheckpoint(path: path)
        self.init(source: path, entries: checkpoint.entries)
    }

    /// Any checkpoint the released models use, recognised by content rather than by name:
    /// safetensors, a torch zip pickle, or a sharded index (`*.index.json`, whose `weight_map` names
    /// the shard holding each key; the shards may be either format).
    public init(contentsOf path: String) throws {
        if path.hasSuffix(".index.json") {
            try self.init(shardIndex: path)
            return
        }
        try self.init(singleFile: path)
    }

    /// One safetensors or torch zip file, never an index (a shard that is an index could name itself).
    init(singleFile path: String) throws {
        switch try CheckpointFormat.detect(path: path) {
        case .safetensors: try self.init(safetensors: path)
        case .torchZip: try self.init(pytorchCheckpoint: path)
        }
    }

    /// A sharded checkpoint: every shard is opened, each key listed in `weight_map` must be in the shard
    /// named for it, and no key may appear in two shards.
    public init(shardIndex path: String) throws {
        let index = try ShardIndex(path: path)
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        var entries: [String: TensorEntry] = [:]
        var origin: [String: String] = [:]
        for shard in Set(index.weightMap.values).sorted() {
            let shardPath = directory.appendingPathComponent(shard).path
            let shardDict = try StateDict(singleFile: shardPath)
            for (key, entry) in shardDict.entries {
                if let first = origin[key] {
                    throw CheckpointError.malformed(path: path, reason: "tensor '\(key)' is in both \(first) and \(shard)")
                }
                origin[key] = shard
                entries[key] = entry
            }
        }
        for (key, shard) in index.weightMap.sorted(by: { $0.key < $1.key }) where origin[key] != shard {
            throw CheckpointError.malformed(path: path, reason: "weight_map puts '\(key)' in \(shard), but \(origin[key].map { "it is in \($0)" } ?? "no shard holds it")")
        }
        self.init(source: path, entries: entries)
    }

    public var keys: [String] { entries.keys.sorted() }

    public subscript(_ key: String) -> TensorEntry? { entries[key] }

    /// The float32 tensor stored under `key`.
    public func tensor(_ key: String) throws -> Tensor {
        guard let entry = entries[key] else { throw CheckpointError.missingTensor(path: source, key: key) }
        return try entry.load()
    }
}

enum CheckpointFormat {
    case safetensors, torchZip

    /// A zip starts with `PK\u{3}\u{4}`; safetensors with a little-endian header length followed by `{`.
    static func detect(path: String) throws -> CheckpointFormat {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw CheckpointError.unreadable(path: path, reason: exists ? "permission denied" : "no such file")
        }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 9)) ?? Data())
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return .torchZip }
        if head.count == 9, head[8] == UInt8(ascii: "{") { return .safetensors }
        if head.first == 0x80 { throw TorchCheckpoint.legacyOrNotZip(path: path) }
        throw CheckpointError.unsupportedFormat(path: path, reason: "neither safetensors nor a torch.save zip archive")
    }
}

/// `model.safetensors.index.json` / `pytorch_model.bin.index.json` as transformers and diffusers write it.
struct ShardIndex: Decodable {
    let weightMap: [String: String]

    enum CodingKeys: String, CodingKey {
        case weightMap = "weight_map"
    }

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CheckpointError.unreadable(path: path, reason: "no such file")
        }
        do {
            self = try JSONDecoder().decode(ShardIndex.self, from: data)
        } catch {
            throw CheckpointError.malformed(path: path, reason: "not a shard index with a weight_map of key -> file name")
        }
        let indexName = URL(fileURLWithPath: path).lastPathComponent
        for file in Set(weightMap.values) where file.isEmpty || file.contains("/") || file.contains("\\") || file.contains("\0") || file.hasPrefix(".") {
            throw CheckpointError.malformed(path: path, reason: "shard name '\(file)' must be a file next to the index")
        }
        // Shards are weight files; an index naming itself (or another index) would be followed forever.
        for file in Set(weightMap.values) where file == indexName || file.hasSuffix(".index.json") {
            throw CheckpointError.malformed(path: path, reason: "shard '\(file)' is an index, not a weight file (an index cannot name itself or another index)")
        }
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        weightMap = try container.decode([String: String].self, forKey: .weightMap)
    }
}

/// Why a strict load failed: every problem, by key name.
public struct WeightLoadingError: Error, CustomStringConvertible {
    public let source: String
    public let missing: [String]
    public let unexpected: [String]
    public let shapeMismatches: [(key: String, expected: [Int], found: [Int])]
    /// Keys whose bytes could not be read (an archive that changed on disk after opening).
    public let unreadable: [String]

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing \(missing.count) key(s): \(missing.prefix(8).joined(separator: ", "))\(missing.count > 8 ? ", ..." : "")") }
        if !unexpected.isEmpty { parts.append("unexpected \(unexpected.count) key(s): \(unexpected.prefix(8).joined(separator: ", "))\(unexpected.count > 8 ? ", ..." : "")") }
        if !shapeMismatches.isEmpty {
            parts.append("shape mismatch: " + shapeMismatches.prefix(8).map { "\($0.key) expected \($0.expected) found \($0.found)" }.joined(separator: "; "))
        }
        if !unreadable.isEmpty { parts.append("unreadable: " + unreadable.prefix(4).joined(separator: "; ")) }
        return "\(source): weights do not fit the model (\(parts.joined(separator: "; ")))"
    }
}

/// Hands a model its parameters by key and shape, loaded straight onto `device`, recording every
/// problem instead of stopping at the first, so one error lists all missing/unexpected/mismatched keys.
/// Models take parameters through `callAsFunction(_:shape:)` while constructing themselves, then the
/// caller calls `finish()`.
///
///     let loader = WeightLoader(stateDict, device: gpu)
///     let unet = UNet2DCondition(config: config, weights: loader)
///     try loader.finish()
public final class WeightLoader {
    public let stateDict: StateDict
    public let prefix: String
    public let device: Device
    private let record: Record

    final class Record {
        var used: Set<String> = []
        var missing: [String] = []
        var mismatches: [(key: String, expected: [Int], found: [Int])] = []
        var unreadable: [String] = []
    }

    public init(_ stateDict: StateDict, device: Device = .cpu) {
        self.stateDict = stateDict
        self.prefix = ""
        self.device = device
        self.record = Record()
    }

    private init(stateDict: StateDict, prefix: String, device: Device, record: Record) {
        self.stateDict = stateDict
        self.prefix = prefix
        self.device = device
        self.record = record
    }

    /// A loader whose keys are relative to `component` (joined with ".").
    public func scoped(_ component: String) -> WeightLoader {
        WeightLoader(stateDict: stateDict, prefix: prefix + component + ".", device: device, record: record)
    }

    public subscript(_ component: String) -> WeightLoader { scoped(component) }

    /// The tensor stored under `prefix + name`, which must have `shape`. A missing or mismatched
    /// tensor is recorded and a zero tensor of the expected shape is returned so loading continues.
    public func callAsFunction(_ name: String, shape: [Int]) -> Tensor {
        load(name, shape: shape) { try $0.load(on: device) }
    }

    /// The 0-dimensional parameter under `prefix + name` as a host value (a model's fixed scalar, read
    /// once at load time). Problems are recorded as for `callAsFunction`; the value is then 0.
    public func scalar(_ name: String) -> Float {
        let value = load(name, shape: []) { try $0.load(on: .cpu) }
        return (try? value.scalars.first) ?? 0
    }

    private func load(_ name: String, shape: [Int], _ read: (TensorEntry) throws -> Tensor) -> Tensor {
        let key = prefix + name
        guard let entry = stateDict.entries[key] else {
            record.missing.append(key)
            return Tensor(zeros: shape, on: device)
        }
        record.used.insert(key)
        guard entry.shape == shape else {
            record.mismatches.append((key, shape, entry.shape))
            return Tensor(zeros: shape, on: device)
        }
        do {
            return try read(entry)
        } catch {
            record.unreadable.append("\(key) (\(error))")
            return Tensor(zeros: shape, on: device)
        }
    }

    /// Whether `prefix + name` exists (for optional parameters such as biases).
    public func contains(_ name: String) -> Bool { stateDict.entries[prefix + name] != nil }

    /// Throws a `WeightLoadingError` listing every missing, unexpected and mismatched key.
    /// `ignoring` filters unexpected keys that the reference also ignores (e.g. BatchNorm's `num_batches_tracked`).
    public func finish(ignoring: (String) -> Bool = { _ in false }) throws {
        let unexpected = stateDict.entries.keys.filter { !record.used.contains($0) && !ignoring($0) }.sorted()
        if !record.missing.isEmpty || !unexpected.isEmpty || !record.mismatches.isEmpty || !record.unreadable.isEmpty {
            throw WeightLoadingError(source: stateDict.source, missing: record.missing, unexpected: unexpected,
                                     shapeMismatches: record.mismatches, unreadable: record.unreadable)
        }
    }
}
