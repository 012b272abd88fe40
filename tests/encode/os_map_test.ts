import assert from "node:assert/strict";
import { mapOs, OS_TABLE, osFromCpe, type OsName } from "../../lib/encode/os_map.ts";

const os = (vendor: string, product: string, version?: string): OsName =>
  version === undefined ? { vendor, product } : { vendor, product, version };

// [OS text, what SetOS sends, the row of OS_TABLE it comes from]
const ROWS: [string, OsName, number][] = [
  [
    "Windows Server 2019 Standard 64 bit Edition Version 1809",
    os("Microsoft", "Windows Server", "2019"),
    0,
  ],
  ["Windows 2012 Standard", os("Microsoft", "Windows Server", "2012"), 0],
  ["Windows 2012 R2 Datacenter", os("Microsoft", "Windows Server", "2012 R2"), 0],
  ["Windows 2008 R2 Enterprise Service Pack 1", os("Microsoft", "Windows Server", "2008 R2"), 0],
  ["Microsoft Windows Server 2016 Datacenter", os("Microsoft", "Windows Server", "2016"), 0],
  ["Windows Server 2022", os("Microsoft", "Windows Server", "2022"), 0],
  ["Windows 2003 Service Pack 2", os("Microsoft", "Windows Server", "2003"), 0],
  ["Windows 10 Enterprise 64 bit Edition Version 1909", os("Microsoft", "Windows", "10"), 1],
  ["Windows 11 Pro", os("Microsoft", "Windows", "11"), 1],
  ["Windows 7 Professional 64 bit Edition Service Pack 1", os("Microsoft", "Windows", "7"), 1],
  ["Windows 8.1 Pro", os("Microsoft", "Windows", "8.1"), 1],
  ["Windows XP Service Pack 3", os("Microsoft", "Windows", "XP"), 1],
  ["windows vista", os("Microsoft", "Windows", "Vista"), 1],
  ["Windows 2000 Service Pack 4", os("Microsoft", "Windows", "2000"), 1],
  ["Windows Server", os("Microsoft", "Windows Server"), 2],
  ["Windows Embedded Standard", os("Microsoft", "Windows"), 3],
  ["Ubuntu 18.04.3 LTS", os("Canonical", "Ubuntu Linux", "18.04.3"), 4],
  ["Ubuntu Linux 16.04", os("Canonical", "Ubuntu Linux", "16.04"), 4],
  ["Ubuntu 11", os("Canonical", "Ubuntu Linux", "11"), 4],
  ["Ubuntu", os("Canonical", "Ubuntu Linux"), 4],
  [
    "Red Hat Enterprise Linux Server release 7.4 (Maipo)",
    os("Red Hat", "Enterprise Linux", "7.4"),
    5,
  ],
  ["RHEL 8", os("Red Hat", "Enterprise Linux", "8"), 5],
  ["CentOS Linux 7.6.1810", os("CentOS", "CentOS Linux", "7.6.1810"), 6],
  ["CentOS release 6.10 (Final)", os("CentOS", "CentOS Linux", "6.10"), 6],
  ["Debian GNU/Linux 9.11", os("Debian", "Debian Linux", "9.11"), 7],
  ["Debian Linux 10", os("Debian", "Debian Linux", "10"), 7],
  ["SUSE Linux Enterprise Server 12 SP4", os("SUSE", "Linux Enterprise Server", "12 SP4"), 8],
  ["SLES 15", os("SUSE", "Linux Enterprise Server", "15"), 8],
  ["Fedora 31", os("Fedora Project", "Fedora", "31"), 9],
  ["Fedora Core 6", os("Fedora Project", "Fedora", "6"), 9],
  ["Amazon Linux 2", os("Amazon", "Amazon Linux", "2"), 10],
  ["Amazon Linux AMI 2018.03", os("Amazon", "Amazon Linux", "2018.03"), 10],
  ["Oracle Enterprise Linux 7.7", os("Oracle", "Linux", "7.7"), 11],
  ["Oracle Linux Server 8.2", os("Oracle", "Linux", "8.2"), 11],
  ["Linux 2.6", os("Linux", "Linux", "2.6"), 12],
  ["Linux 3.13", os("Linux", "Linux", "3.13"), 12],
  ["Linux Kernel 4.15.0-45-generic", os("Linux", "Linux", "4.15.0"), 12],
  ["Linux", os("Linux", "Linux"), 12],
  ["Tiny Core Linux", os("Linux", "Linux"), 13],
  ["Mac OS X 10.15.7", os("Apple", "macOS", "10.15.7"), 14],
  ["macOS Big Sur 11.2", os("Apple", "macOS", "11.2"), 14],
  ["Apple OS X 10.11", os("Apple", "macOS", "10.11"), 14],
  ["macOS", os("Apple", "macOS"), 14],
  ["Cisco IOS XE 16.9.4", os("Cisco", "IOS XE", "16.9.4"), 15],
  ["Cisco IOS XE Software, Version 17.3.1", os("Cisco", "IOS XE", "17.3.1"), 15],
  ["Cisco IOS 15.2(4)M", os("Cisco", "IOS", "15.2(4)M"), 16],
  ["Cisco IOS Version 12.2(55)SE", os("Cisco", "IOS", "12.2(55)SE"), 16],
];

Deno.test("mapOs: every row of the table, with and without a version", () => {
  for (const [text, want] of ROWS) assert.deepStrictEqual(mapOs(text), want, text);
  for (const [text, want] of ROWS) {
    assert.deepStrictEqual(mapOs(`  ${text.replace(/ /g, "  ")} `), want, "blanks do not matter");
  }
  const covered = new Set(ROWS.map(([, , row]) => row));
  for (let k = 0; k < OS_TABLE.length; k++) {
    assert.ok(covered.has(k), `row ${k} (${OS_TABLE[k]!.example}) has a case`);
    const first = ROWS.find(([, , row]) => row === k)!;
    const hit = OS_TABLE.findIndex((r) => r.match.test(first[0]));
    assert.equal(hit, k, `"${first[0]}" is matched first by row ${k}`);
  }
});

Deno.test("mapOs: ambiguous texts send vendor and product only, never a guessed version", () => {
  const cases: [string, OsName | undefined][] = [
    ["Windows 2016/2019/10", os("Microsoft", "Windows")], // servers and a client: the family
    ["Windows 2016/2019", os("Microsoft", "Windows Server")], // one product, two versions
    ["Windows 2008 R2/7", os("Microsoft", "Windows")],
    ["Windows Vista / Windows 2008 / Windows 7 / Windows 2012", os("Microsoft", "Windows")],
    ["Linux 2.4-2.6", os("Linux", "Linux")], // a range
    ["Linux 2.6.x", os("Linux", "Linux")], // a wildcard
    ["Linux 3.x", os("Linux", "Linux")],
    ["Ubuntu / Tiny Core Linux / Linux 2.6.x", os("Linux", "Linux")],
    ["Ubuntu / Fedora / Tiny Core Linux / Linux 3.x", os("Linux", "Linux")],
    ["Debian GNU/Linux 8 / Ubuntu 14.04", os("Linux", "Linux")], // GNU/Linux is one name
    // a system outside the table among the alternatives: nothing is known for sure
    ["Linux 2.4-2.6 / Embedded Device / F5 Networks Big-IP / Linux 2.6", undefined],
    ["Windows 2008 / Linux 2.6", undefined], // two families
  ];
  for (const [text, want] of cases) assert.deepStrictEqual(mapOs(text), want, text);
});

Deno.test("mapOs: unknown systems and no data give nothing", () => {
  for (
    const text of [
      "HP LaserJet 4250",
      "Embedded Device",
      "Cisco IOS XR 6.1",
      "VMware ESXi 6.7",
      "FreeBSD 12",
      "",
      "   ",
    ]
  ) assert.equal(mapOs(text), undefined, text);
  assert.equal(mapOs(undefined), undefined);
  assert.equal(mapOs(undefined, ""), undefined);
});

Deno.test("mapOs: a CPE name wins over the text; only operating system CPEs count", () => {
  assert.deepStrictEqual(
    mapOs("Windows 2016/2019/10", "cpe:/o:microsoft:windows_server_2016:1607"),
    os("microsoft", "windows_server_2016", "1607"),
  );
  assert.deepStrictEqual(
    mapOs(undefined, "cpe:2.3:o:canonical:ubuntu_linux:18.04:*:*:*:lts:*:*:*"),
    os("canonical", "ubuntu_linux", "18.04"),
  );
  assert.deepStrictEqual(
    mapOs("HP LaserJet", "cpe:/o:hp:laserjet_firmware"),
    os("hp", "laserjet_firmware"),
  );
  // not an OS, or no product: the text decides
  assert.deepStrictEqual(
    mapOs("Linux 3.13", "cpe:/a:openbsd:openssh:7.4"),
    os("Linux", "Linux", "3.13"),
  );
  assert.deepStrictEqual(mapOs("Linux 3.13", "cpe:/o:linux"), os("Linux", "Linux", "3.13"));
  assert.equal(mapOs("Embedded Device", "cpe:/h:hp:laserjet:4250"), undefined);
  assert.equal(mapOs("", "not a cpe"), undefined);
});

Deno.test("osFromCpe: CPE 2.2 and 2.3 forms, escapes, ANY and NA", () => {
  assert.deepStrictEqual(
    osFromCpe("cpe:/o:microsoft:windows_10:1909"),
    os("microsoft", "windows_10", "1909"),
  );
  assert.deepStrictEqual(
    osFromCpe("CPE:/O:Microsoft:Windows_XP::SP3"),
    os("Microsoft", "Windows_XP"),
  );
  assert.deepStrictEqual(
    osFromCpe("cpe:/o:apple:mac%20os%20x:10.15"),
    os("apple", "mac os x", "10.15"),
  );
  assert.deepStrictEqual(osFromCpe("cpe:/o:bad%zzescape:x:1"), os("bad%zzescape", "x", "1"));
  assert.deepStrictEqual(
    osFromCpe("cpe:2.3:o:cisco:ios:15.2\\(4\\)m:*:*:*:*:*:*:*"),
    os("cisco", "ios", "15.2(4)m"),
  );
  assert.deepStrictEqual(osFromCpe("cpe:2.3:o:vendor\\:x:prod:-:*"), os("vendor:x", "prod"));
  assert.deepStrictEqual(osFromCpe("cpe:2.3:o:linux:linux_kernel:*"), os("linux", "linux_kernel"));
  assert.equal(osFromCpe("cpe:2.3:o:*:windows:10"), undefined);
  assert.equal(osFromCpe("cpe:2.3:a:apache:http_server:2.4"), undefined);
  assert.equal(osFromCpe("cpe:/h:hp:laserjet"), undefined);
});
