// Token ids of the real CLIP vocabulary (Fixtures/clip_tokenizer, copied from the release's tokenizer
// folder) against transformers' slow CLIPTokenizer without ftfy, which is what the reference pipeline
// runs (tools/fixtures/gen_vae_clip.py). The fast tokenizer's ids are recorded too; it differs on
// control and zero-width characters, CJK, emoji and final sigma, and the slow one is the reference.

import Foundation
import Models
import XCTest

final class CLIPTokenizerTests: XCTestCase {
    struct Case: Decodable {
        let text: String
        /// transformers' slow tokenizer; the fixture also records `fast_ids` for comparison.
        let ids: [Int]
    }

    var tokenizerDirectory: URL {
        get throws {
            let vocabulary = try XCTUnwrap(Bundle.module.url(forResource: "vocab", withExtension: "json",
                                                             subdirectory: "Fixtures/clip_tokenizer"))
            return vocabulary.deletingLastPathComponent()
        }
    }

    func loadCases() throws -> [Case] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "clip_tokenizer_cases", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode([Case].self, from: Data(contentsOf: url))
    }

    func testIdsEqualTransformersOnVariedText() throws {
        let tokenizer = try CLIPTokenizer(directory: try tokenizerDirectory)
        let cases = try loadCases()
        XCTAssertGreaterThan(cases.count, 20)
        for testCase in cases {
            XCTAssertEqual(tokenizer.encode(testCase.text), testCase.ids, "text: \(testCase.text.debugDescription)")
        }
    }

    func testSpecialTokensAndPadding() throws {
        let tokenizer = try CLIPTokenizer(directory: try tokenizerDirectory)
        XCTAssertEqual(tokenizer.modelMaxLength, 77)
        XCTAssertEqual(tokenizer.bosTokenID, 49406)
        XCTAssertEqual(tokenizer.eosTokenID, 49407)
        XCTAssertEqual(tokenizer.padTokenID, 0, "the release pads with \"!\"")
        XCTAssertEqual(tokenizer.encode(""), [49406, 49407] + Array(repeating: 0, count: 75))
        let long = tokenizer.encode(String(repeating: "cat ", count: 100))
        XCTAssertEqual(long.count, 77)
        XCTAssertEqual(long.last, 49407, "truncation keeps the end-of-text token")
    }

    func testMissingVocabularyNamesTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("clip-tokenizer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        XCTAssertThrowsError(try CLIPTokenizer(directory: directory)) { error in
            XCTAssert(String(describing: error).contains("vocab.json"), String(describing: error))
        }
    }
}
