// The output rule (src/formats/io/output_file.h) on every kind of path, and its scratch files.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "esm_onnx/base/errors.h"
#include "formats/io/output_file.h"
#include "formats/io/process_tag.h"

using namespace esm_onnx;
namespace fs = std::filesystem;

namespace {

fs::path fresh(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / (name + "." + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(OutputFile, NothingOrARegularFileIsReplaced) {
  const fs::path d = fresh("esm_onnx_output_regular");
  EXPECT_EQ(io::output_destination((d / "new.csv").string(), "--x"), (d / "new.csv").string());
  write(d / "old.csv", "old");
  write(d / "tmp", "new");
  io::publish((d / "tmp").string(), (d / "old.csv").string(), "--x");
  EXPECT_EQ(read(d / "old.csv"), "new");
  EXPECT_FALSE(fs::exists(d / "tmp"));
  fs::remove_all(d);
}

TEST(OutputFile, DevicesFifosAndFoldersAreRefusedNamingThem) {
  const fs::path d = fresh("esm_onnx_output_refused");
  ASSERT_EQ(mkfifo((d / "fifo").c_str(), 0600), 0);
  fs::create_directory(d / "folder");
  fs::create_symlink("/dev/null", d / "null-link");
  for (const char* name : {"fifo", "folder", "null-link"}) {
    const std::string path = (d / name).string();
    try {
      io::output_destination(path, "--dms-output");
      FAIL() << name << " was accepted";
    } catch (const FileError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("--dms-output " + path), std::string::npos) << m;
      EXPECT_EQ(m.find("Success"), std::string::npos) << m;
    }
    write(d / "tmp", "x");
    EXPECT_THROW(io::publish((d / "tmp").string(), path, "--dms-output"), FileError);
    EXPECT_FALSE(fs::exists(d / "tmp")) << "the scratch file stays after a refusal";
  }
  struct stat st {};
  ASSERT_EQ(stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_TRUE(fs::is_fifo(d / "fifo"));
  fs::remove_all(d);
}

TEST(OutputFile, LinksAreFollowedToTheirTargetAndLoopsNamed) {
  const fs::path d = fresh("esm_onnx_output_links");
  write(d / "target.csv", "old");
  fs::create_symlink("target.csv", d / "a");  // relative, resolved beside the link
  fs::create_symlink(d / "a", d / "b");
  EXPECT_EQ(io::output_destination((d / "b").string(), ""), (d / "target.csv").string());
  write(d / "tmp", "new");
  io::publish((d / "tmp").string(), (d / "b").string(), "");
  EXPECT_TRUE(fs::is_symlink(d / "b"));
  EXPECT_EQ(read(d / "target.csv"), "new");
  fs::create_symlink(d / "loop2", d / "loop1");
  fs::create_symlink(d / "loop1", d / "loop2");
  EXPECT_THROW(io::output_destination((d / "loop1").string(), ""), FileError);
  EXPECT_EQ(io::output_destination((d / "dangling-target").string(), ""), (d / "dangling-target").string());
  fs::remove_all(d);
}

TEST(OutputFile, OutputFoldersMustBeFoldersOrNothing) {
  const fs::path d = fresh("esm_onnx_output_folders");
  EXPECT_NO_THROW(io::check_output_folder((d / "new").string(), "OUTDIR"));
  EXPECT_NO_THROW(io::check_output_folder(d.string(), "OUTDIR"));
  write(d / "file", "x");
  EXPECT_THROW(io::check_output_folder((d / "file").string(), "OUTDIR"), FileError);
  EXPECT_THROW(io::check_output_folder((d / "file" / "below").string(), "OUTDIR"), FileError);
  fs::remove_all(d);
}

TEST(OutputFile, ScratchFilesGoOnEveryPathAndStaleOnesOfDeadProcessesToo) {
  const fs::path d = fresh("esm_onnx_output_scratch");
  const std::string dest = (d / "out.csv").string();
  std::string host = io::process_tag();
  host = host.substr(0, host.rfind('-'));
  const fs::path stale = d / ("out.csv.partial-" + host + "-999999999");
  const fs::path foreign = d / "out.csv.partial-elsewhere-1";
  const fs::path other = d / ("other.csv.partial-" + host + "-999999999");
  for (const auto& p : {stale, foreign, other}) write(p, "x");
  std::string path;
  try {
    io::ScratchFile tmp(dest, "--x");
    path = tmp.path();
    write(path, "half");
    throw std::runtime_error("failed mid-way");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(foreign));  // another host's: its process cannot be checked from here
  EXPECT_TRUE(fs::exists(other));    // another output's
  {
    io::ScratchFile tmp(dest, "--x");
    write(tmp.path(), "done");
    tmp.publish("--x");
  }
  EXPECT_EQ(read(dest), "done");
  fs::remove_all(d);
}

TEST(OutputFile, APrePlacedLinkOrFifoAtTheScratchNameIsNotFollowed) {
  const fs::path d = fresh("esm_onnx_output_preplaced");
  const std::string dest = (d / "out.csv").string();
  write(d / "victim.txt", "keep");
  fs::create_symlink(d / "victim.txt", io::scratch_name(dest));
  {
    io::ScratchFile tmp(dest, "--x");
    EXPECT_FALSE(fs::is_symlink(tmp.path()));
    write(tmp.path(), "result");
    tmp.publish("--x");
  }
  EXPECT_EQ(read(d / "victim.txt"), "keep");
  EXPECT_EQ(read(dest), "result");
  ASSERT_EQ(mkfifo(io::scratch_name(dest).c_str(), 0600), 0);
  {
    io::ScratchFile tmp(dest, "--x");  // would block on open() were the FIFO kept
    EXPECT_TRUE(fs::is_regular_file(tmp.path()));
  }
  fs::remove_all(d);
}

TEST(OutputFile, ANameTooLongForTheSuffixGetsAShortScratchName) {
  const fs::path d = fresh("esm_onnx_output_long");
  const std::string dest = (d / std::string(250, 'n')).string();
  {
    io::ScratchFile tmp(dest, "--x");
    EXPECT_LE(fs::path(tmp.path()).filename().string().size(), 255u);
    write(tmp.path(), "ok");
    tmp.publish("--x");
  }
  EXPECT_EQ(read(dest), "ok");
  fs::remove_all(d);
}

TEST(OutputFile, OnlyExactScratchNamesOfDeadProcessesAreStale) {
  std::string host = io::process_tag();
  host = host.substr(0, host.rfind('-'));
  EXPECT_TRUE(io::is_stale_tag(host + "-999999999"));
  EXPECT_TRUE(io::is_stale_tag(host + "-999999999.3"));
  EXPECT_FALSE(io::is_stale_tag(host + "-999999999.npz"));  // a record's file that looks like one
  EXPECT_FALSE(io::is_stale_tag(host + "-999999999x"));
  EXPECT_FALSE(io::is_stale_tag(host + "-"));
  EXPECT_FALSE(io::is_stale_tag(io::process_tag()));  // this process runs
}
