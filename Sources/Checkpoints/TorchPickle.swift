import Foundation

/// A value produced by the restricted unpickler. Lists and dicts are reference boxes because pickle
/// mutates them after memoising (APPENDS/SETITEMS on an object a later BINGET fetches again).
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes(Data)
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case global(TorchGlobal)
    case storage(TorchStorageReference)
    case tensor(TorchTensorReference)

    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case let .global(global): return global.qualifiedName
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// Lists and dicts may only be filled while they are not inside another value (how pickle builds them:
/// APPENDS/SETITEMS right after creation). Once nested, a container is frozen, so the depth recorded
/// for it is final and no mutation can deepen, or close a cycle through, a value already counted.
final class PickleList {
    var items: [PickleValue] = []
    var depth = 1
    var isNested = false
}

/// Keeps insertion order (a state_dict is an OrderedDict); keys may be any value.
final class PickleDict {
    var pairs: [(key: PickleValue, value: PickleValue)] = []
    var depth = 1
    var isNested = false
}

/// The only globals a `torch.save`d state_dict references. Anything else (`os.system`,
/// `builtins.eval`, a model class) is refused by name before anything is constructed.
enum TorchGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    case storageType(CheckpointDType)

    static let storageTypes: [String: CheckpointDType] = [
        "FloatStorage": .float32, "HalfStorage": .float16, "BFloat16Storage": .bfloat16,
        "DoubleStorage": .float64, "LongStorage": .int64, "IntStorage": .int32, "ShortStorage": .int16,
        "CharStorage": .int8, "ByteStorage": .uint8, "BoolStorage": .bool,
    ]

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch", _):
            guard let dtype = TorchGlobal.storageTypes[name] else { return nil }
            self = .storageType(dtype)
        default: return nil
        }
    }

    var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case let .storageType(dtype): return "torch." + (TorchGlobal.storageTypes.first { $0.value == dtype }?.key ?? "Storage")
        }
    }
}

/// `('storage', torch.FloatStorage, '0', 'cpu', 6)`: storage file `data/0` holding 6 float32 elements.
struct TorchStorageReference {
    let key: String
    let dtype: CheckpointDType
    let elementCount: Int
}

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)`: a (possibly strided) view.
struct TorchTensorReference {
    let storage: TorchStorageReference
    let storageOffset: Int
    let shape: [Int]
    let strides: [Int]
}

enum PickleError: Error, CustomStringConvertible, Equatable {
    case malformed(offset: Int, reason: String)
    case unsupportedOpcode(offset: Int, opcode: UInt8)
    case disallowedGlobal(String)

    var description: String {
        switch self {
        case let .malformed(offset, reason): return "pickle byte \(offset): \(reason)"
        case let .unsupportedOpcode(offset, opcode):
            return "pickle byte \(offset): opcode 0x\(String(opcode, radix: 16)) is not used by torch.save state_dicts"
        case let .disallowedGlobal(name): return "global \(name)"
        }
    }
}

/// A pickle virtual machine for the opcodes `torch.save` emits (protocols 2 to 5) that never executes
/// anything: globals resolve to the fixed set in `TorchGlobal`, REDUCE only rebuilds tensors and
/// OrderedDicts, and every length is checked against the bytes that remain, so hostile input ends
/// in a `PickleError` without large allocations. Two more limits keep a small file from costing much:
/// values nest at most `maximumDepth` deep (freeing a nested `indirect enum` recurses once per level,
/// so 2 M nested tuples would overflow the stack), and the elements placed in containers are counted
/// against a budget proportional to the input (memoised containers fed again and again to REDUCE
/// would otherwise grow without bound: kilobytes of opcodes, gigabytes of values).
struct TorchUnpickler {
    /// A state_dict nests about five deep (dict, rebuild arguments, shape tuple).
    static let maximumDepth = 100
    /// A real state_dict places well under one element per pickle byte.
    static func elementBudget(inputBytes: Int) -> Int { min(2 * inputBytes + 65_536, 16_000_000) }

    /// A value on the stack or in the memo with its nesting depth (a scalar is 0, `(1,)` is 1).
    private struct Item {
        let value: PickleValue
        let depth: Int
    }

    private let bytes: [UInt8]
    private var position = 0
    private var stack: [Item] = []
    private var markStack: [Int] = []
    private var memo: [Int: Item] = [:]
    private var elementsLeft: Int

    init(_ data: Data) {
        bytes = [UInt8](data)
        elementsLeft = TorchUnpickler.elementBudget(inputBytes: bytes.count)
    }

    static func load(_ data: Data) throws -> PickleValue {
        var machine = TorchUnpickler(data)
        return try machine.run()
    }

    private mutating func run() throws -> PickleValue {
        while true {
            let opcodeOffset = position
            let opcode = try readByte()
            switch opcode {
            case 0x80: _ = try readByte()                                   // PROTO
            case 0x95: _ = try read(8)                                      // FRAME: lengths only
            case UInt8(ascii: "."):                                          // STOP
                guard let result = stack.popLast(), markStack.isEmpty else { throw malformed("STOP with an empty stack or an open MARK") }
                return result.value
            case UInt8(ascii: "("): markStack.append(stack.count)           // MARK
            case UInt8(ascii: "0"): _ = try pop()                           // POP
            case UInt8(ascii: "1"): _ = try popMark()                       // POP_MARK
            case UInt8(ascii: "2"): try push(top())                         // DUP
            case UInt8(ascii: "N"): try push(.none)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case UInt8(ascii: "J"): try push(.int(Int(Int32(bitPattern: try readUInt32()))))
            case UInt8(ascii: "K"): try push(.int(Int(try readByte())))
            case UInt8(ascii: "M"): try push(.int(Int(try readUInt16())))
            case 0x8a: try push(.int(try readLong(length: Int(try readByte()))))
            case 0x8b: try push(.int(try readLong(length: Int(try readUInt32()))))
            case UInt8(ascii: "G"):
                let raw = try read(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }   // big-endian
                try push(.float(Double(bitPattern: raw)))
            case UInt8(ascii: "X"): try push(.string(try readString(length: Int(try readUInt32()))))
            case 0x8c: try push(.string(try readString(length: Int(try readByte()))))
            case 0x8d: try push(.string(try readString(length: try readLength64())))
            case UInt8(ascii: "T"): try push(.string(try readString(length: Int(try readUInt32()))))
            case UInt8(ascii: "U"): try push(.string(try readString(length: Int(try readByte()))))
            case UInt8(ascii: "B"): try push(.bytes(Data(try read(Int(try readUInt32())))))
            case UInt8(ascii: "C"): try push(.bytes(Data(try read(Int(try readByte())))))
            case 0x8e: try push(.bytes(Data(try read(try readLength64()))))
            case UInt8(ascii: ")"): try push(.tuple([]))
            case UInt8(ascii: "t"): try push(tuple(popMark()))
            case 0x85: try push(tuple(pop(1)))
            case 0x86: try push(tuple(pop(2)))
            case 0x87: try push(tuple(pop(3)))
            case UInt8(ascii: "]"): try push(.list(PickleList()))
            case UInt8(ascii: "l"):
                let list = PickleList()
                try append(popMark(), to: list)
                try push(.list(list))
            case UInt8(ascii: "a"):
                let item = try pop()
                try append([item], to: list(top()))
            case UInt8(ascii: "e"):
                let items = try popMark()
                try append(items, to: list(top()))
            case UInt8(ascii: "}"): try push(.dict(PickleDict()))
            case UInt8(ascii: "d"):
                let dict = PickleDict()
                try insert(popMark(), into: dict)
                try push(.dict(dict))
            case UInt8(ascii: "s"):
                let value = try pop(), key = try pop()
                try insert([key, value], into: dict(top()))
            case UInt8(ascii: "u"):
                let items = try popMark()
                try insert(items, into: dict(top()))
            case UInt8(ascii: "c"):
                let module = try readLine(), name = try readLine()
                try push(.global(try global(module: module, name: name)))
            case 0x93:
                let name = try pop().value, module = try pop().value
                guard case let .string(moduleName) = module, case let .string(globalName) = name else {
                    throw malformed("STACK_GLOBAL needs two strings")
                }
                try push(.global(try global(module: moduleName, name: globalName)))
            case UInt8(ascii: "R"):
                let arguments = try pop(), callable = try pop()
                try push(reduce(callable.value, arguments))
            case UInt8(ascii: "b"):
                let state = try pop()
                try build(top().value, state: state.value)
            case UInt8(ascii: "Q"):
                let identifier = try pop()
                try push(Item(value: try persistentLoad(identifier.value), depth: identifier.depth))
            case UInt8(ascii: "q"): try memoize(at: Int(try readByte()))
            case UInt8(ascii: "r"): try memoize(at: Int(try readUInt32()))
            case 0x94: try memoize(at: memo.count)
            case UInt8(ascii: "h"): try push(memoValue(Int(try readByte())))
            case UInt8(ascii: "j"): try push(memoValue(Int(try readUInt32())))
            default: throw PickleError.unsupportedOpcode(offset: opcodeOffset, opcode: opcode)
            }
        }
    }

    // MARK: - Depth and element accounting

    private mutating func push(_ value: PickleValue) throws {
        try push(Item(value: value, depth: 0))
    }

    private mutating func push(_ item: Item) throws {
        try spend(1)
        stack.append(item)
    }

    private mutating func memoize(at index: Int) throws {
        try spend(1)
        memo[index] = try top()
    }

    /// Counts `count` elements against the budget.
    private mutating func spend(_ count: Int) throws {
        elementsLeft -= count
        guard elementsLeft >= 0 else {
            throw malformed("more than \(TorchUnpickler.elementBudget(inputBytes: bytes.count)) values for a \(bytes.count)-byte pickle (a state_dict needs far fewer; refusing a memo/REDUCE amplification)")
        }
    }

    /// The depth of a value that contains `items`, refused past `maximumDepth`.
    private func containerDepth(_ items: [Item]) throws -> Int {
        let nesting = 1 + (items.map { depth(of: $0) }.max() ?? 0)
        guard nesting <= TorchUnpickler.maximumDepth else {
            throw malformed("values nested more than \(TorchUnpickler.maximumDepth) deep (a state_dict nests a few levels)")
        }
        return nesting
    }

    /// Lists and dicts carry their depth (they grow while being filled); other values carry it on the item.
    private func depth(of item: Item) -> Int {
        switch item.value {
        case let .list(list): return list.depth
        case let .dict(dict): return dict.depth
        default: return item.depth
        }
    }

    /// Items placed inside another value: their containers are frozen from now on.
    private func markNested(_ items: [Item]) {
        for item in items {
            switch item.value {
            case let .list(list): list.isNested = true
            case let .dict(dict): dict.isNested = true
            default: break
            }
        }
    }

    private mutating func tuple(_ items: [Item]) throws -> Item {
        try spend(items.count)
        let depth = try containerDepth(items)
        markNested(items)
        return Item(value: .tuple(items.map(\.value)), depth: depth)
    }

    private func isSameContainer(_ item: Item, _ container: AnyObject) -> Bool {
        switch item.value {
        case let .list(list): return list === container
        case let .dict(dict): return dict === container
        default: return false
        }
    }

    private mutating func append(_ items: [Item], to list: PickleList) throws {
        guard !list.isNested else { throw malformed("append to a list that is already inside another value") }
        guard !items.contains(where: { isSameContainer($0, list) }) else { throw malformed("a list cannot contain itself") }
        try spend(items.count)
        list.depth = max(list.depth, try containerDepth(items))
        markNested(items)
        list.items.append(contentsOf: items.map(\.value))
    }

    private mutating func insert(_ items: [Item], into dict: PickleDict) throws {
        guard !dict.isNested else { throw malformed("set item on a dict that is already inside another value") }
        guard !items.contains(where: { isSameContainer($0, dict) }) else { throw malformed("a dict cannot contain itself") }
        guard items.count % 2 == 0 else { throw malformed("odd number of dict items") }
        try spend(items.count)
        dict.depth = max(dict.depth, try containerDepth(items))
        markNested(items)
        dict.pairs.append(contentsOf: stride(from: 0, to: items.count, by: 2).map { (items[$0].value, items[$0 + 1].value) })
    }

    // MARK: - Object construction (the safe subset)

    private func global(module: String, name: String) throws -> TorchGlobal {
        guard let global = TorchGlobal(module: module, name: name) else {
            throw PickleError.disallowedGlobal(module + "." + name)
        }
        return global
    }

    private mutating func reduce(_ callable: PickleValue, _ argumentItem: Item) throws -> Item {
        let arguments = argumentItem.value
        guard case let .global(global) = callable, case let .tuple(args) = arguments else {
            throw malformed("REDUCE of \(callable.kind) with \(arguments.kind) arguments")
        }
        switch global {
        case .orderedDict:
            let dict = PickleDict()
            if let initial = args.first, case let .list(items) = initial {
                // The new dict holds the list's pairs: as deep as the argument tuple, and as many elements.
                try spend(2 * items.items.count)
                dict.depth = max(1, argumentItem.depth - 1)
                for item in items.items {
                    guard case let .tuple(pair) = item, pair.count == 2 else { throw malformed("OrderedDict item is not a pair") }
                    dict.pairs.append((pair[0], pair[1]))
                }
            } else if !args.isEmpty {
                throw malformed("OrderedDict called with \(args.count) unexpected argument(s)")
            }
            return Item(value: .dict(dict), depth: dict.depth)
        case .rebuildTensorV2:
            guard args.count >= 4, case let .storage(storage) = args[0], case let .int(offset) = args[1],
                  let shape = integers(args[2]), let strides = integers(args[3]), shape.count == strides.count else {
                throw malformed("_rebuild_tensor_v2 expects (storage, offset, size, stride, ...)")
            }
            guard offset >= 0, shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
                throw malformed("_rebuild_tensor_v2 with negative offset, size or stride")
            }
            guard let needed = TensorEntry.storageElementsNeeded(shape: shape, strides: strides, offset: offset),
                  needed <= storage.elementCount,
                  !shape.reduce((1, false), { acc, d in let r = acc.0.multipliedReportingOverflow(by: d); return (r.partialValue, acc.1 || r.overflow) }).1
            else {
                throw malformed("tensor of size \(shape), stride \(strides), offset \(offset) reaches past its \(storage.elementCount)-element storage '\(storage.key)'")
            }
            return Item(value: .tensor(TorchTensorReference(storage: storage, storageOffset: offset, shape: shape, strides: strides)), depth: 0)
        case .rebuildParameter:
            guard let data = args.first, case .tensor = data else { throw malformed("_rebuild_parameter expects a tensor") }
            return Item(value: data, depth: 0)
        case .storageType:
            throw malformed("\(global.qualifiedName) called directly")
        }
    }

    /// BUILD sets instance state. torch stores a state_dict's `_metadata` (per-module versions) this
    /// way; it is not needed to load tensors, so it is accepted and dropped.
    private func build(_ object: PickleValue, state: PickleValue) throws {
        guard case .dict = object else { throw malformed("BUILD on \(object.kind)") }
        guard case .dict = state else { throw malformed("BUILD with \(state.kind) state") }
    }

    private func persistentLoad(_ identifier: PickleValue) throws -> PickleValue {
        guard case let .tuple(fields) = identifier, fields.count == 5, case .string("storage") = fields[0],
              case let .global(.storageType(dtype)) = fields[1], case let .string(key) = fields[2],
              case let .int(elementCount) = fields[4], elementCount >= 0 else {
            throw malformed("persistent id is not ('storage', <torch storage type>, key, location, numel)")
        }
        return .storage(TorchStorageReference(key: key, dtype: dtype, elementCount: elementCount))
    }

    private func integers(_ value: PickleValue) -> [Int]? {
        guard case let .tuple(items) = value else { return nil }
        var result: [Int] = []
        for item in items {
            guard case let .int(number) = item else { return nil }
            result.append(number)
        }
        return result
    }

    // MARK: - Stack and input helpers

    private func malformed(_ reason: String) -> PickleError { .malformed(offset: position, reason: reason) }

    private mutating func pop() throws -> Item {
        guard stack.count > (markStack.last ?? 0), let item = stack.popLast() else { throw malformed("stack underflow") }
        return item
    }

    private mutating func pop(_ count: Int) throws -> [Item] {
        guard stack.count - (markStack.last ?? 0) >= count else { throw malformed("stack underflow") }
        let items = Array(stack.suffix(count))
        stack.removeLast(count)
        return items
    }

    private func top() throws -> Item {
        guard stack.count > (markStack.last ?? 0), let item = stack.last else { throw malformed("stack underflow") }
        return item
    }

    private mutating func popMark() throws -> [Item] {
        guard let mark = markStack.popLast() else { throw malformed("no MARK on the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func list(_ item: Item) throws -> PickleList {
        guard case let .list(list) = item.value else { throw malformed("append to \(item.value.kind)") }
        return list
    }

    private func dict(_ item: Item) throws -> PickleDict {
        guard case let .dict(dict) = item.value else { throw malformed("set item on \(item.value.kind)") }
        return dict
    }

    private func memoValue(_ index: Int) throws -> Item {
        guard let item = memo[index] else { throw malformed("memo entry \(index) was never stored") }
        return item
    }

    private mutating func readByte() throws -> UInt8 {
        guard position < bytes.count else { throw malformed("unexpected end of data") }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func read(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - position else {
            throw malformed("length \(count) runs past the end of the data")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    private mutating func readUInt16() throws -> UInt16 {
        try read(2).reversed().reduce(0) { $0 << 8 | UInt16($1) }
    }

    private mutating func readUInt32() throws -> UInt32 {
        try read(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    private mutating func readLength64() throws -> Int {
        let value = try read(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard value <= UInt64(bytes.count) else { throw malformed("length \(value) runs past the end of the data") }
        return Int(value)
    }

    /// Little-endian two's-complement integer of `length` bytes; state dicts only need 64 bits.
    private mutating func readLong(length: Int) throws -> Int {
        guard length <= 8 else { throw malformed("integer of \(length) bytes does not fit 64 bits") }
        let digits = try read(length)
        guard !digits.isEmpty else { return 0 }
        var value: UInt64 = 0
        for (index, byte) in digits.enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        if length < 8, digits.last! & 0x80 != 0 { value |= ~UInt64(0) << (8 * UInt64(length)) }
        return Int(Int64(bitPattern: value))
    }

    private mutating func readString(length: Int) throws -> String {
        let raw = try read(length)
        guard let text = String(bytes: raw, encoding: .utf8) else { throw malformed("string is not UTF-8") }
        return text
    }

    private mutating func readLine() throws -> String {
        guard let newline = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else {
            throw malformed("GLOBAL name without a newline")
        }
        let line = try readString(length: newline - position)
        position += 1
        return line
    }
}
