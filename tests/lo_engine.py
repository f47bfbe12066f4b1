"""Drive LibreOffice Calc through UNO: recalculate a workbook, optionally change
input cells first, and print every formula cell's value as JSON.

Run with the system Python that has ``uno`` (Debian's python3-uno), not the
project's virtualenv:

    /usr/bin/python3 tests/lo_engine.py BOOK.xlsx [--set NAME=VALUE ...]

Output: {"Sheet!A1": value, ...} for every cell holding a formula.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import uno  # noqa: F401 - provided by python3-uno
from com.sun.star.beans import PropertyValue  # type: ignore


def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def main(argv):
    book = os.path.abspath(argv[0])
    sets = []
    args = argv[1:]
    while args:
        if args[0] == "--set":
            name, value = args[1].split("=", 1)
            sets.append((name, value))
            args = args[2:]
        else:
            raise SystemExit(f"unknown argument {args[0]}")
    profile = tempfile.mkdtemp(prefix="lo-profile-")
    pipe = f"cryptobench{os.getpid()}"
    # its temporary files and IPC sockets go inside the profile, removed with it below
    tmp = os.path.join(profile, "tmp")
    os.mkdir(tmp)
    proc = subprocess.Popen(
        ["soffice", "--headless", "--invisible", "--norestore", "--nologo", "--nodefault",
         f"--accept=pipe,name={pipe};urp;", f"-env:UserInstallation=file://{profile}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, TMPDIR=tmp),
    )
    desktop = None
    sockets_before = set(glob.glob("/tmp/OSL_PIPE_*"))  # LibreOffice puts its IPC sockets in /tmp whatever TMPDIR says
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        ctx = None
        for _ in range(300):
            try:
                ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.1)
        if ctx is None:
            raise SystemExit("LibreOffice did not start")
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(book), "_blank", 0, (prop("Hidden", True),))
        doc.calculateAll()
        for name, value in sets:
            cell = doc.NamedRanges.getByName(name).getReferredCells().getCellByPosition(0, 0)
            try:
                cell.setValue(float(value))
            except ValueError:
                cell.setString(value)
        doc.calculateAll()
        out = {}
        from com.sun.star.table.CellContentType import FORMULA  # type: ignore

        for sheet in doc.Sheets:
            cursor = sheet.createCursor()
            cursor.gotoEndOfUsedArea(False)
            rows, cols = cursor.RangeAddress.EndRow, cursor.RangeAddress.EndColumn
            for r in range(rows + 1):
                for c in range(cols + 1):
                    cell = sheet.getCellByPosition(c, r)
                    if cell.Type != FORMULA:
                        continue
                    ref = f"{sheet.Name}!{cell.AbsoluteName.split('.')[-1].replace('$', '')}"
                    if cell.getError():
                        out[ref] = {"error": cell.getError()}
                    elif cell.FormulaResultType2 == 2:  # TEXT
                        out[ref] = cell.getString()
                    else:
                        out[ref] = cell.getValue()
        doc.close(True)
        json.dump(out, sys.stdout)
    finally:
        try:
            if desktop is not None:
                desktop.terminate()  # a clean exit removes its sockets; terminate() below is the fallback
        except Exception:  # noqa: BLE001 - the bridge closes as it exits
            pass
        try:
            proc.terminate()
            proc.wait(timeout=10)
        except Exception:  # noqa: BLE001
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)  # a LibreOffice user profile per call, a few MB each
        for sock in set(glob.glob("/tmp/OSL_PIPE_*")) - sockets_before:  # ours, left by the killed process
            if f"_cryptobench{os.getpid()}" in sock or "_SingleOfficeIPC_" in sock:
                try:
                    os.unlink(sock)
                except OSError:
                    pass


if __name__ == "__main__":
    main(sys.argv[1:])
