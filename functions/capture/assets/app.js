// The hosted capture page's behaviour (API.md §9, notes/capture-contract.md): reads the
// client token from the URL fragment, walks the applicant through consent, personal data,
// the ID document, the proof of address (when the token's steps ask for it) and review,
// uploads files straight to S3, submits, and shows the session's outcome. The behaviour
// signals of §6 are measured in their own section near the end ("Behaviour signals").
//
// Plain modern JS with no build step and no dependencies: the CSP allows only this file
// ('self'), and inline styles are blocked, so visual state is always a class or `hidden`.

// ---------------------------------------------------------------------------------------
// Where the API is
// ---------------------------------------------------------------------------------------

// Behind API Gateway's default endpoint every path starts with the stage name
// (/prod/v1/identity/...), so the API base is whatever precedes /v1/identity/ here.
const MARK = "/v1/identity/";
const API = (() => {
  const p = location.pathname;
  const i = p.indexOf(MARK);
  return i >= 0 ? p.slice(0, i + MARK.length) : MARK;
})();

const TOKEN_KEY = "idv.capture.token";
const MAX_BYTES = 10 * 1024 * 1024;
const MIN_LONG = 600;
const MIN_SHORT = 400;
// Variance of the Laplacian on a ≤ 512 px grey copy; below this a photo of a document is
// usually too soft to read. The project's licence fixture scores about 15000, its
// --blurred variant 28; phone photos of documents in focus score in the hundreds.
const BLUR_THRESHOLD = 100;
const POLL_MS = 2000;
const POLL_TRIES = 45;

// ---------------------------------------------------------------------------------------
// Strings: every language in one dictionary; {name} placeholders are filled by t().
// ---------------------------------------------------------------------------------------

const STRINGS = {
  en: {
    app_title: "Identity check",
    loading: "Loading…",
    step_of: "Step {n} of {total}",
    consent_h: "Before you start",
    consent_p1: "The company that sent you this link uses this page to check your identity.",
    consent_what_idv: "You will enter your personal details and add photos of your identity document. It takes about 5 minutes.",
    consent_what_address: "You will enter your personal details and add photos of your identity document and a proof of address. It takes about 5 minutes.",
    consent_p3: "Your data and photos are used only to verify your identity, on behalf of that company.",
    consent_label: "I agree that my personal data and document photos are processed to verify my identity.",
    consent_err: "Tick the box to confirm that you agree.",
    start: "Start",
    continue: "Continue",
    back: "Back",
    submit: "Submit",
    personal_h: "Your personal details",
    legend_name: "Your name and date of birth, as on your ID",
    first_name: "First name",
    middle_name: "Middle name (optional)",
    last_name: "Last name",
    birth_date: "Date of birth",
    birth_hint: "As shown on your identity document.",
    legend_contact: "How to contact you",
    email: "Email address",
    phone: "Phone number (optional)",
    phone_hint: "With the country code, for example +44 7700 900123.",
    legend_address: "Home address",
    line1: "Address line 1",
    line2: "Address line 2 (optional)",
    city: "Town or city",
    subdivision: "State, province or region (optional)",
    postal_code: "Postal code",
    country: "Country",
    choose: "Choose a country",
    err_required: "This field is required.",
    err_email: "Enter an email address like name@example.com.",
    err_phone: "Enter the number with its country code, like +14155550100.",
    err_birth: "Enter a real date of birth in the past.",
    err_summary: "Please correct the fields marked below.",
    document_h: "Your identity document",
    document_intro: "Add clear photos of your passport, driving licence or identity card: the whole document, in focus, without glare.",
    legend_document: "Photos of the document",
    front: "Front of the document",
    front_hint: "The side with your photo. JPEG or PNG, up to 10 MB.",
    back_side: "Back of the document",
    back_hint: "Only if it has a back with text or a barcode (not for passports).",
    use_camera: "Use the camera",
    camera_h: "Take a photo",
    take_photo: "Take photo",
    cancel: "Cancel",
    camera_failed: "The camera could not be started. Choose a photo instead.",
    err_doc_none: "Add at least one photo of your document.",
    err_type_image: "This file type is not supported. Use a JPEG or PNG photo.",
    err_type_any: "This file type is not supported. Use a JPEG or PNG photo or a PDF.",
    err_size: "This file is larger than 10 MB. Choose a smaller one.",
    err_empty: "This file is empty. Choose another one.",
    err_decode: "This photo could not be read. Choose another one.",
    err_resolution: "This photo is too small ({w}×{h} pixels). It needs at least 600×400 pixels.",
    warn_blur: "This photo looks blurry. If the text is hard to read, take a new one.",
    file_ok: "{name}: {w}×{h} pixels, ready.",
    file_pdf_ok: "{name}: PDF, ready.",
    uploading: "Uploading {name}: {p}%",
    uploaded: "{name} uploaded.",
    err_upload: "The upload failed. Check your connection and try again.",
    address_h: "Proof of address",
    address_intro: "Add a utility bill or bank statement from the last 3 months that shows your name and home address.",
    address_file: "Proof of address",
    address_hint: "A photo (JPEG or PNG) or a PDF, up to 10 MB.",
    err_address_none: "Add your proof of address.",
    review_h: "Check your answers",
    review_intro: "Make sure everything is correct before you submit.",
    review_documents: "Documents",
    change_personal: "Change your personal details",
    change_documents: "Change your documents",
    r_name: "Name",
    r_birth: "Date of birth",
    r_email: "Email",
    r_phone: "Phone",
    r_address: "Address",
    r_front: "Front",
    r_back: "Back",
    r_proof: "Proof of address",
    none: "None",
    submitting: "Submitting…",
    checking_h: "We are checking your documents",
    checking_p: "This usually takes less than a minute. Please keep this page open.",
    still_checking: "The check is taking longer than usual. You can close this page: the company that sent you the link will tell you the result.",
    done_h: "Thank you, your documents were checked",
    done_p: "You can close this page now.",
    failed_h: "We could not verify your documents",
    failed_p: "The company that sent you this link will contact you about the next steps.",
    retry_h: "Please take new photos",
    retry_idv: "We could not read your identity document: the photo may be blurry, too dark or cut off. Take new photos in good light with the whole document visible.",
    retry_address: "We could not read your proof of address. Add a clearer photo or the PDF of the document.",
    retry_btn: "Add new photos",
    expired_h: "This link is no longer valid",
    expired_p: "This link has expired or is no longer valid. Ask the company that sent it for a new one.",
    error_h: "Something went wrong",
    error_generic: "Something went wrong. Please try again in a moment.",
    error_network: "We could not reach the server. Check your connection and try again.",
  },
  de: {
    app_title: "Identitätsprüfung",
    loading: "Wird geladen…",
    step_of: "Schritt {n} von {total}",
    consent_h: "Bevor Sie beginnen",
    consent_p1: "Das Unternehmen, das Ihnen diesen Link geschickt hat, prüft mit dieser Seite Ihre Identität.",
    consent_what_idv: "Sie geben Ihre persönlichen Daten ein und fügen Fotos Ihres Ausweisdokuments hinzu. Das dauert etwa 5 Minuten.",
    consent_what_address: "Sie geben Ihre persönlichen Daten ein und fügen Fotos Ihres Ausweisdokuments und einen Adressnachweis hinzu. Das dauert etwa 5 Minuten.",
    consent_p3: "Ihre Daten und Fotos werden nur zur Prüfung Ihrer Identität im Auftrag dieses Unternehmens verwendet.",
    consent_label: "Ich bin einverstanden, dass meine persönlichen Daten und Dokumentfotos zur Prüfung meiner Identität verarbeitet werden.",
    consent_err: "Bitte bestätigen Sie Ihr Einverständnis mit dem Kästchen.",
    start: "Beginnen",
    continue: "Weiter",
    back: "Zurück",
    submit: "Absenden",
    personal_h: "Ihre persönlichen Daten",
    legend_name: "Name und Geburtsdatum wie im Ausweis",
    first_name: "Vorname",
    middle_name: "Zweiter Vorname (optional)",
    last_name: "Nachname",
    birth_date: "Geburtsdatum",
    birth_hint: "Wie in Ihrem Ausweisdokument angegeben.",
    legend_contact: "So erreichen wir Sie",
    email: "E-Mail-Adresse",
    phone: "Telefonnummer (optional)",
    phone_hint: "Mit Ländervorwahl, zum Beispiel +49 30 123456.",
    legend_address: "Wohnadresse",
    line1: "Adresszeile 1",
    line2: "Adresszeile 2 (optional)",
    city: "Ort",
    subdivision: "Bundesland, Kanton oder Region (optional)",
    postal_code: "Postleitzahl",
    country: "Land",
    choose: "Land auswählen",
    err_required: "Dieses Feld ist erforderlich.",
    err_email: "Geben Sie eine E-Mail-Adresse wie name@example.com ein.",
    err_phone: "Geben Sie die Nummer mit Ländervorwahl ein, z. B. +4930123456.",
    err_birth: "Geben Sie ein gültiges Geburtsdatum in der Vergangenheit ein.",
    err_summary: "Bitte korrigieren Sie die markierten Felder.",
    document_h: "Ihr Ausweisdokument",
    document_intro: "Fügen Sie deutliche Fotos Ihres Reisepasses, Führerscheins oder Personalausweises hinzu: das ganze Dokument, scharf und ohne Spiegelungen.",
    legend_document: "Fotos des Dokuments",
    front: "Vorderseite des Dokuments",
    front_hint: "Die Seite mit Ihrem Foto. JPEG oder PNG, bis 10 MB.",
    back_side: "Rückseite des Dokuments",
    back_hint: "Nur wenn die Rückseite Text oder einen Barcode hat (nicht bei Reisepässen).",
    use_camera: "Kamera verwenden",
    camera_h: "Foto aufnehmen",
    take_photo: "Foto aufnehmen",
    cancel: "Abbrechen",
    camera_failed: "Die Kamera konnte nicht gestartet werden. Wählen Sie stattdessen ein Foto.",
    err_doc_none: "Fügen Sie mindestens ein Foto Ihres Dokuments hinzu.",
    err_type_image: "Dieser Dateityp wird nicht unterstützt. Verwenden Sie ein JPEG- oder PNG-Foto.",
    err_type_any: "Dieser Dateityp wird nicht unterstützt. Verwenden Sie ein JPEG- oder PNG-Foto oder ein PDF.",
    err_size: "Diese Datei ist größer als 10 MB. Wählen Sie eine kleinere.",
    err_empty: "Diese Datei ist leer. Wählen Sie eine andere.",
    err_decode: "Dieses Foto kann nicht gelesen werden. Wählen Sie ein anderes.",
    err_resolution: "Dieses Foto ist zu klein ({w}×{h} Pixel). Es braucht mindestens 600×400 Pixel.",
    warn_blur: "Dieses Foto wirkt unscharf. Wenn der Text schwer lesbar ist, nehmen Sie ein neues auf.",
    file_ok: "{name}: {w}×{h} Pixel, bereit.",
    file_pdf_ok: "{name}: PDF, bereit.",
    uploading: "{name} wird hochgeladen: {p} %",
    uploaded: "{name} hochgeladen.",
    err_upload: "Das Hochladen ist fehlgeschlagen. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut.",
    address_h: "Adressnachweis",
    address_intro: "Fügen Sie eine Versorgerrechnung oder einen Kontoauszug der letzten 3 Monate hinzu, auf dem Ihr Name und Ihre Wohnadresse stehen.",
    address_file: "Adressnachweis",
    address_hint: "Ein Foto (JPEG oder PNG) oder ein PDF, bis 10 MB.",
    err_address_none: "Fügen Sie Ihren Adressnachweis hinzu.",
    review_h: "Angaben prüfen",
    review_intro: "Prüfen Sie, ob alles stimmt, bevor Sie absenden.",
    review_documents: "Dokumente",
    change_personal: "Persönliche Daten ändern",
    change_documents: "Dokumente ändern",
    r_name: "Name",
    r_birth: "Geburtsdatum",
    r_email: "E-Mail",
    r_phone: "Telefon",
    r_address: "Adresse",
    r_front: "Vorderseite",
    r_back: "Rückseite",
    r_proof: "Adressnachweis",
    none: "Keine",
    submitting: "Wird gesendet…",
    checking_h: "Wir prüfen Ihre Dokumente",
    checking_p: "Das dauert meist weniger als eine Minute. Bitte lassen Sie diese Seite geöffnet.",
    still_checking: "Die Prüfung dauert länger als üblich. Sie können diese Seite schließen: Das Unternehmen teilt Ihnen das Ergebnis mit.",
    done_h: "Vielen Dank, Ihre Dokumente wurden geprüft",
    done_p: "Sie können diese Seite jetzt schließen.",
    failed_h: "Wir konnten Ihre Dokumente nicht verifizieren",
    failed_p: "Das Unternehmen, das Ihnen diesen Link geschickt hat, meldet sich wegen der nächsten Schritte.",
    retry_h: "Bitte nehmen Sie neue Fotos auf",
    retry_idv: "Wir konnten Ihr Ausweisdokument nicht lesen: Das Foto ist vielleicht unscharf, zu dunkel oder abgeschnitten. Nehmen Sie bei gutem Licht neue Fotos mit dem ganzen Dokument auf.",
    retry_address: "Wir konnten Ihren Adressnachweis nicht lesen. Fügen Sie ein deutlicheres Foto oder das PDF des Dokuments hinzu.",
    retry_btn: "Neue Fotos hinzufügen",
    expired_h: "Dieser Link ist nicht mehr gültig",
    expired_p: "Dieser Link ist abgelaufen oder nicht mehr gültig. Bitten Sie das Unternehmen, das ihn geschickt hat, um einen neuen.",
    error_h: "Etwas ist schiefgelaufen",
    error_generic: "Etwas ist schiefgelaufen. Bitte versuchen Sie es gleich noch einmal.",
    error_network: "Der Server ist nicht erreichbar. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut.",
  },
  fr: {
    app_title: "Vérification d’identité",
    loading: "Chargement…",
    step_of: "Étape {n} sur {total}",
    consent_h: "Avant de commencer",
    consent_p1: "L’entreprise qui vous a envoyé ce lien utilise cette page pour vérifier votre identité.",
    consent_what_idv: "Vous allez saisir vos données personnelles et ajouter des photos de votre pièce d’identité. Cela prend environ 5 minutes.",
    consent_what_address: "Vous allez saisir vos données personnelles et ajouter des photos de votre pièce d’identité et un justificatif de domicile. Cela prend environ 5 minutes.",
    consent_p3: "Vos données et vos photos servent uniquement à vérifier votre identité, pour le compte de cette entreprise.",
    consent_label: "J’accepte que mes données personnelles et les photos de mes documents soient traitées pour vérifier mon identité.",
    consent_err: "Cochez la case pour confirmer votre accord.",
    start: "Commencer",
    continue: "Continuer",
    back: "Retour",
    submit: "Envoyer",
    personal_h: "Vos données personnelles",
    legend_name: "Nom et date de naissance, comme sur votre pièce d’identité",
    first_name: "Prénom",
    middle_name: "Deuxième prénom (facultatif)",
    last_name: "Nom",
    birth_date: "Date de naissance",
    birth_hint: "Telle qu’indiquée sur votre pièce d’identité.",
    legend_contact: "Vos coordonnées",
    email: "Adresse e-mail",
    phone: "Numéro de téléphone (facultatif)",
    phone_hint: "Avec l’indicatif du pays, par exemple +33 6 12 34 56 78.",
    legend_address: "Adresse du domicile",
    line1: "Adresse ligne 1",
    line2: "Adresse ligne 2 (facultatif)",
    city: "Ville",
    subdivision: "État, province ou région (facultatif)",
    postal_code: "Code postal",
    country: "Pays",
    choose: "Choisissez un pays",
    err_required: "Ce champ est obligatoire.",
    err_email: "Saisissez une adresse e-mail comme nom@example.com.",
    err_phone: "Saisissez le numéro avec l’indicatif du pays, comme +33612345678.",
    err_birth: "Saisissez une date de naissance réelle et passée.",
    err_summary: "Veuillez corriger les champs signalés ci-dessous.",
    document_h: "Votre pièce d’identité",
    document_intro: "Ajoutez des photos nettes de votre passeport, permis de conduire ou carte d’identité : le document entier, net et sans reflet.",
    legend_document: "Photos du document",
    front: "Recto du document",
    front_hint: "Le côté avec votre photo. JPEG ou PNG, jusqu’à 10 Mo.",
    back_side: "Verso du document",
    back_hint: "Seulement s’il a un verso avec du texte ou un code-barres (pas pour un passeport).",
    use_camera: "Utiliser l’appareil photo",
    camera_h: "Prendre une photo",
    take_photo: "Prendre la photo",
    cancel: "Annuler",
    camera_failed: "L’appareil photo n’a pas pu démarrer. Choisissez plutôt une photo.",
    err_doc_none: "Ajoutez au moins une photo de votre document.",
    err_type_image: "Ce type de fichier n’est pas accepté. Utilisez une photo JPEG ou PNG.",
    err_type_any: "Ce type de fichier n’est pas accepté. Utilisez une photo JPEG ou PNG ou un PDF.",
    err_size: "Ce fichier dépasse 10 Mo. Choisissez-en un plus petit.",
    err_empty: "Ce fichier est vide. Choisissez-en un autre.",
    err_decode: "Cette photo ne peut pas être lue. Choisissez-en une autre.",
    err_resolution: "Cette photo est trop petite ({w}×{h} pixels). Il faut au moins 600×400 pixels.",
    warn_blur: "Cette photo semble floue. Si le texte est difficile à lire, prenez-en une nouvelle.",
    file_ok: "{name} : {w}×{h} pixels, prête.",
    file_pdf_ok: "{name} : PDF, prêt.",
    uploading: "Envoi de {name} : {p} %",
    uploaded: "{name} envoyé.",
    err_upload: "L’envoi a échoué. Vérifiez votre connexion et réessayez.",
    address_h: "Justificatif de domicile",
    address_intro: "Ajoutez une facture ou un relevé bancaire de moins de 3 mois qui montre votre nom et votre adresse.",
    address_file: "Justificatif de domicile",
    address_hint: "Une photo (JPEG ou PNG) ou un PDF, jusqu’à 10 Mo.",
    err_address_none: "Ajoutez votre justificatif de domicile.",
    review_h: "Vérifiez vos réponses",
    review_intro: "Assurez-vous que tout est correct avant d’envoyer.",
    review_documents: "Documents",
    change_personal: "Modifier vos données personnelles",
    change_documents: "Modifier vos documents",
    r_name: "Nom",
    r_birth: "Date de naissance",
    r_email: "E-mail",
    r_phone: "Téléphone",
    r_address: "Adresse",
    r_front: "Recto",
    r_back: "Verso",
    r_proof: "Justificatif de domicile",
    none: "Aucun",
    submitting: "Envoi en cours…",
    checking_h: "Nous vérifions vos documents",
    checking_p: "Cela prend en général moins d’une minute. Gardez cette page ouverte.",
    still_checking: "La vérification prend plus de temps que prévu. Vous pouvez fermer cette page : l’entreprise vous communiquera le résultat.",
    done_h: "Merci, vos documents ont été vérifiés",
    done_p: "Vous pouvez fermer cette page.",
    failed_h: "Nous n’avons pas pu vérifier vos documents",
    failed_p: "L’entreprise qui vous a envoyé ce lien vous contactera pour la suite.",
    retry_h: "Veuillez reprendre les photos",
    retry_idv: "Nous n’avons pas pu lire votre pièce d’identité : la photo est peut-être floue, trop sombre ou coupée. Reprenez des photos sous une bonne lumière, document entier visible.",
    retry_address: "Nous n’avons pas pu lire votre justificatif de domicile. Ajoutez une photo plus nette ou le PDF du document.",
    retry_btn: "Ajouter de nouvelles photos",
    expired_h: "Ce lien n’est plus valide",
    expired_p: "Ce lien a expiré ou n’est plus valide. Demandez-en un nouveau à l’entreprise qui vous l’a envoyé.",
    error_h: "Un problème est survenu",
    error_generic: "Un problème est survenu. Réessayez dans un instant.",
    error_network: "Le serveur est injoignable. Vérifiez votre connexion et réessayez.",
  },
  es: {
    app_title: "Verificación de identidad",
    loading: "Cargando…",
    step_of: "Paso {n} de {total}",
    consent_h: "Antes de empezar",
    consent_p1: "La empresa que le envió este enlace usa esta página para verificar su identidad.",
    consent_what_idv: "Introducirá sus datos personales y añadirá fotos de su documento de identidad. Tarda unos 5 minutos.",
    consent_what_address: "Introducirá sus datos personales y añadirá fotos de su documento de identidad y un justificante de domicilio. Tarda unos 5 minutos.",
    consent_p3: "Sus datos y fotos solo se usan para verificar su identidad, en nombre de esa empresa.",
    consent_label: "Acepto que mis datos personales y las fotos de mis documentos se traten para verificar mi identidad.",
    consent_err: "Marque la casilla para confirmar que está de acuerdo.",
    start: "Empezar",
    continue: "Continuar",
    back: "Atrás",
    submit: "Enviar",
    personal_h: "Sus datos personales",
    legend_name: "Nombre y fecha de nacimiento, como en su documento",
    first_name: "Nombre",
    middle_name: "Segundo nombre (opcional)",
    last_name: "Apellidos",
    birth_date: "Fecha de nacimiento",
    birth_hint: "Como figura en su documento de identidad.",
    legend_contact: "Cómo contactarle",
    email: "Correo electrónico",
    phone: "Teléfono (opcional)",
    phone_hint: "Con el prefijo del país, por ejemplo +34 612 345 678.",
    legend_address: "Domicilio",
    line1: "Dirección, línea 1",
    line2: "Dirección, línea 2 (opcional)",
    city: "Localidad",
    subdivision: "Provincia, estado o región (opcional)",
    postal_code: "Código postal",
    country: "País",
    choose: "Elija un país",
    err_required: "Este campo es obligatorio.",
    err_email: "Introduzca un correo como nombre@example.com.",
    err_phone: "Introduzca el número con el prefijo del país, como +34612345678.",
    err_birth: "Introduzca una fecha de nacimiento real y pasada.",
    err_summary: "Corrija los campos marcados.",
    document_h: "Su documento de identidad",
    document_intro: "Añada fotos nítidas de su pasaporte, permiso de conducir o documento de identidad: el documento entero, enfocado y sin reflejos.",
    legend_document: "Fotos del documento",
    front: "Anverso del documento",
    front_hint: "La cara con su foto. JPEG o PNG, hasta 10 MB.",
    back_side: "Reverso del documento",
    back_hint: "Solo si tiene un reverso con texto o código de barras (no para pasaportes).",
    use_camera: "Usar la cámara",
    camera_h: "Hacer una foto",
    take_photo: "Hacer foto",
    cancel: "Cancelar",
    camera_failed: "No se pudo iniciar la cámara. Elija una foto.",
    err_doc_none: "Añada al menos una foto de su documento.",
    err_type_image: "Este tipo de archivo no se admite. Use una foto JPEG o PNG.",
    err_type_any: "Este tipo de archivo no se admite. Use una foto JPEG o PNG o un PDF.",
    err_size: "Este archivo supera los 10 MB. Elija uno más pequeño.",
    err_empty: "Este archivo está vacío. Elija otro.",
    err_decode: "No se puede leer esta foto. Elija otra.",
    err_resolution: "Esta foto es demasiado pequeña ({w}×{h} píxeles). Necesita al menos 600×400 píxeles.",
    warn_blur: "Esta foto parece borrosa. Si el texto se lee mal, haga otra.",
    file_ok: "{name}: {w}×{h} píxeles, lista.",
    file_pdf_ok: "{name}: PDF, listo.",
    uploading: "Subiendo {name}: {p} %",
    uploaded: "{name} subido.",
    err_upload: "La subida ha fallado. Compruebe su conexión e inténtelo de nuevo.",
    address_h: "Justificante de domicilio",
    address_intro: "Añada una factura o un extracto bancario de los últimos 3 meses con su nombre y domicilio.",
    address_file: "Justificante de domicilio",
    address_hint: "Una foto (JPEG o PNG) o un PDF, hasta 10 MB.",
    err_address_none: "Añada su justificante de domicilio.",
    review_h: "Revise sus respuestas",
    review_intro: "Compruebe que todo es correcto antes de enviar.",
    review_documents: "Documentos",
    change_personal: "Cambiar sus datos personales",
    change_documents: "Cambiar sus documentos",
    r_name: "Nombre",
    r_birth: "Fecha de nacimiento",
    r_email: "Correo",
    r_phone: "Teléfono",
    r_address: "Dirección",
    r_front: "Anverso",
    r_back: "Reverso",
    r_proof: "Justificante de domicilio",
    none: "Ninguno",
    submitting: "Enviando…",
    checking_h: "Estamos comprobando sus documentos",
    checking_p: "Suele tardar menos de un minuto. Mantenga esta página abierta.",
    still_checking: "La comprobación está tardando más de lo normal. Puede cerrar esta página: la empresa le comunicará el resultado.",
    done_h: "Gracias, sus documentos se han comprobado",
    done_p: "Ya puede cerrar esta página.",
    failed_h: "No hemos podido verificar sus documentos",
    failed_p: "La empresa que le envió este enlace se pondrá en contacto con usted.",
    retry_h: "Haga fotos nuevas",
    retry_idv: "No hemos podido leer su documento de identidad: la foto puede estar borrosa, oscura o cortada. Haga fotos nuevas con buena luz y el documento entero a la vista.",
    retry_address: "No hemos podido leer su justificante de domicilio. Añada una foto más nítida o el PDF del documento.",
    retry_btn: "Añadir fotos nuevas",
    expired_h: "Este enlace ya no es válido",
    expired_p: "Este enlace ha caducado o ya no es válido. Pida uno nuevo a la empresa que se lo envió.",
    error_h: "Algo ha fallado",
    error_generic: "Algo ha fallado. Inténtelo de nuevo en un momento.",
    error_network: "No se puede conectar con el servidor. Compruebe su conexión e inténtelo de nuevo.",
  },
};

const LANG = (() => {
  const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  for (const tag of wanted) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (STRINGS[primary]) return primary;
  }
  return "en";
})();

function t(key, vars) {
  let s = STRINGS[LANG][key] ?? STRINGS.en[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

function translatePage() {
  document.documentElement.lang = LANG;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}

// ISO 3166-1 alpha-2; names come from the browser (Intl.DisplayNames) in the page's
// language, so no country-name table has to ship in four languages.
const COUNTRIES =
  "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
  "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
  "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
  "KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT " +
  "MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
  "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG " +
  "UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

function fillCountries(select) {
  let names;
  try {
    names = new Intl.DisplayNames([LANG], { type: "region" });
  } catch {
    names = null;
  }
  const list = COUNTRIES.split(" ").map((code) => [code, (names && names.of(code)) || code]);
  list.sort((a, b) => a[1].localeCompare(b[1], LANG));
  const blank = new Option(t("choose"), "");
  select.append(blank, ...list.map(([code, name]) => new Option(name, code)));
}

// ---------------------------------------------------------------------------------------
// Small DOM helpers and step navigation
// ---------------------------------------------------------------------------------------

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

function announce(text) {
  const live = $("#live");
  // Clearing first makes screen readers repeat an identical message.
  live.textContent = "";
  setTimeout(() => (live.textContent = text), 50);
}

const state = {
  token: null,
  sessionId: null,
  steps: ["idv"],
  session: null,
  current: "loading",
  // per kind ("idv" | "address"): {id, sig, submitted}
  docs: {},
  // per slot ("front" | "back" | "proof"): {file, ok, width, height}
  files: {},
  deviceSent: false,
  halted: false,
};

function flow() {
  const f = ["consent", "personal", "document"];
  if (state.steps.includes("address")) f.push("address");
  f.push("review");
  return f;
}

function show(step) {
  for (const s of $$(".step")) s.hidden = s.id !== "step-" + step;
  state.current = step;
  const f = flow();
  const n = f.indexOf(step);
  const count = $("#stepcount");
  count.hidden = n < 0;
  count.textContent = n < 0 ? "" : t("step_of", { n: n + 1, total: f.length });
  const h = $("#step-" + step + " h1");
  document.title = `${h.textContent} – ${t("app_title")}`;
  // Focus the heading so screen readers announce the new step and Tab starts at its top.
  h.focus();
  window.scrollTo(0, 0);
  if (step === "consent" && !performance.getEntriesByName("idv-interactive").length) {
    performance.mark("idv-interactive");
  }
}

function next() {
  const f = flow();
  show(f[f.indexOf(state.current) + 1] || "review");
}

function back() {
  const f = flow();
  show(f[Math.max(0, f.indexOf(state.current) - 1)]);
}

function setFieldError(id, message) {
  const input = document.getElementById(id);
  const err = document.getElementById("err-" + id) || document.getElementById("msg-" + id.replace(/^file-/, ""));
  if (input) {
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
  if (err) {
    err.textContent = message || "";
    err.hidden = !message;
    err.classList.toggle("error", Boolean(message));
  }
}

function setSummary(id, message) {
  const box = document.getElementById(id);
  if (!box) return;
  box.textContent = message || "";
  box.hidden = !message;
}

function clearErrors(form) {
  for (const el of $$("[aria-invalid]", form)) el.removeAttribute("aria-invalid");
  for (const el of $$("p.error", form)) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of $$(".summary", form)) {
    el.hidden = true;
    el.textContent = "";
  }
}

function busy(form, on) {
  for (const b of $$("button", form)) b.disabled = on;
  form.setAttribute("aria-busy", on ? "true" : "false");
}

// ---------------------------------------------------------------------------------------
// API client: Bearer token, JSON:API errors, a 401 anywhere ends the visit.
// ---------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, errors) {
    super(`HTTP ${status}`);
    this.status = status;
    this.errors = errors || [];
  }
}

// Thrown after the page switched to the expired screen so callers just stop.
class Halt extends Error {}

async function api(method, path, body) {
  if (state.halted) throw new Halt();
  const headers = { Authorization: "Bearer " + state.token, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
  if (res.status === 401) {
    expired();
    throw new Halt();
  }
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  if (!res.ok) throw new ApiError(res.status, json && json.errors);
  return json;
}

function expired() {
  state.halted = true;
  sessionStorage.removeItem(TOKEN_KEY);
  show("expired");
}

// What to tell the applicant about a failure that is not a field's fault.
function failureText(e) {
  if (e instanceof ApiError) return t("error_generic");
  return t("error_network");
}

// ---------------------------------------------------------------------------------------
// Step: consent
// ---------------------------------------------------------------------------------------

function initConsent() {
  $("#consent-what").textContent = t(state.steps.includes("address") ? "consent_what_address" : "consent_what_idv");
  $("#form-consent").addEventListener("submit", (e) => {
    e.preventDefault();
    const ok = $("#consent").checked;
    setFieldError("consent", ok ? "" : t("consent_err"));
    if (!ok) $("#consent").focus();
    else next();
  });
}

// ---------------------------------------------------------------------------------------
// Step: personal data
// ---------------------------------------------------------------------------------------

// JSON pointer of each field in the PATCH body: 422 errors come back with these.
const POINTERS = {
  first_name: "/data/attributes/person/name/first",
  middle_name: "/data/attributes/person/name/middle",
  last_name: "/data/attributes/person/name/last",
  birth_date: "/data/attributes/person/birth_date",
  email: "/data/attributes/contact/email",
  phone: "/data/attributes/contact/phone",
  line1: "/data/attributes/address/line1",
  line2: "/data/attributes/address/line2",
  city: "/data/attributes/address/city",
  subdivision: "/data/attributes/address/subdivision",
  postal_code: "/data/attributes/address/postal_code",
  country_code: "/data/attributes/address/country_code",
};

function fieldForPointer(pointer) {
  if (!pointer) return null;
  let best = null;
  for (const [id, p] of Object.entries(POINTERS)) {
    if (pointer === p || pointer.startsWith(p + "/")) return id;
    // An error on a whole object (e.g. /person/name) belongs to its first field.
    if (!best && p.startsWith(pointer + "/")) best = id;
  }
  return best;
}

const val = (id) => document.getElementById(id).value.trim();
const orNull = (s) => (s === "" ? null : s);
const normalPhone = (s) => s.replace(/[\s().-]/g, "");

function prefillPersonal(a) {
  const set = (id, v) => {
    if (v && !document.getElementById(id).value) document.getElementById(id).value = v;
  };
  const name = (a.person && a.person.name) || {};
  set("first_name", name.first);
  set("middle_name", name.middle);
  set("last_name", name.last);
  set("birth_date", a.person && a.person.birth_date);
  set("email", a.contact && a.contact.email);
  set("phone", a.contact && a.contact.phone);
  const ad = a.address || {};
  for (const k of ["line1", "line2", "city", "subdivision", "postal_code", "country_code"]) set(k, ad[k]);
}

function validatePersonal() {
  const problems = [];
  for (const id of ["first_name", "last_name", "birth_date", "email", "line1", "city", "postal_code", "country_code"]) {
    if (!val(id)) problems.push([id, t("err_required")]);
  }
  const birth = val("birth_date");
  if (birth) {
    const d = new Date(birth + "T00:00:00Z");
    if (!/^\d{4}-\d{2}-\d{2}$/.test(birth) || isNaN(d) || d >= new Date() || d.getUTCFullYear() < 1900) {
      problems.push(["birth_date", t("err_birth")]);
    }
  }
  const email = val("email");
  if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) problems.push(["email", t("err_email")]);
  const phone = normalPhone(val("phone"));
  if (phone && !/^\+[1-9]\d{6,14}$/.test(phone)) problems.push(["phone", t("err_phone")]);
  return problems;
}

function showProblems(formId, problems) {
  for (const [id, msg] of problems) setFieldError(id, msg);
  setSummary("err-" + formId, t("err_summary"));
  const first = document.getElementById(problems[0][0]);
  if (first) first.focus();
}

function initPersonal() {
  fillCountries($("#country_code"));
  const form = $("#form-personal");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    const problems = validatePersonal();
    if (problems.length) return showProblems("personal", problems);
    const body = {
      data: {
        type: "session",
        id: state.sessionId,
        attributes: {
          person: {
            name: { first: val("first_name"), middle: orNull(val("middle_name")), last: val("last_name") },
            birth_date: val("birth_date"),
          },
          contact: { email: val("email"), phone: orNull(normalPhone(val("phone"))) },
          address: {
            line1: val("line1"),
            line2: orNull(val("line2")),
            city: val("city"),
            subdivision: orNull(val("subdivision")),
            postal_code: val("postal_code"),
            country_code: val("country_code"),
          },
        },
      },
    };
    busy(form, true);
    try {
      const doc = await api("PATCH", "sessions/" + state.sessionId, body);
      state.session = doc.data;
      next();
    } catch (err) {
      if (err instanceof Halt) return;
      if (err instanceof ApiError && err.status === 422 && err.errors.length) {
        const mapped = [];
        const other = [];
        for (const x of err.errors) {
          const id = fieldForPointer(x.source && x.source.pointer);
          if (id) mapped.push([id, x.detail || x.title || t("err_required")]);
          else other.push(x.detail || x.title);
        }
        if (mapped.length) showProblems("personal", mapped);
        if (other.length) setSummary("err-personal", other.join(" "));
      } else if (err instanceof ApiError && err.status === 409) {
        // The session moved on (submitted from another tab, expired…): show where it is.
        const moved = await refreshOutcome().catch((e) => e instanceof Halt);
        if (!moved) setSummary("err-personal", t("error_generic"));
      } else {
        setSummary("err-personal", failureText(err));
      }
    } finally {
      busy(form, false);
    }
  });
}

// ---------------------------------------------------------------------------------------
// File checks: type (by magic bytes, not the name), size, resolution, blur
// ---------------------------------------------------------------------------------------

async function sniff(file) {
  const b = new Uint8Array(await file.slice(0, 8).arrayBuffer());
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "image/png";
  if (b[0] === 0x25 && b[1] === 0x50 && b[2] === 0x44 && b[3] === 0x46) return "application/pdf";
  return null;
}

// Variance of a 4-neighbour Laplacian over a grey copy at most 512 px wide: sharp text has
// strong second derivatives, a blurred photo almost none.
function blurScore(bitmap) {
  const scale = Math.min(1, 512 / bitmap.width);
  const w = Math.max(3, Math.round(bitmap.width * scale));
  const h = Math.max(3, Math.round(bitmap.height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0, w, h);
  const px = ctx.getImageData(0, 0, w, h).data;
  const grey = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) grey[i] = 0.299 * px[i * 4] + 0.587 * px[i * 4 + 1] + 0.114 * px[i * 4 + 2];
  let sum = 0;
  let sq = 0;
  let n = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const lap = grey[i - 1] + grey[i + 1] + grey[i - w] + grey[i + w] - 4 * grey[i];
      sum += lap;
      sq += lap * lap;
      n++;
    }
  }
  const mean = sum / n;
  return sq / n - mean * mean;
}

// Returns {ok, type, width, height, blur, error, warning}.
async function checkFile(file, allowPdf) {
  if (!file.size) return { ok: false, error: t("err_empty") };
  const type = await sniff(file);
  const allowed = allowPdf ? ["image/jpeg", "image/png", "application/pdf"] : ["image/jpeg", "image/png"];
  if (!type || !allowed.includes(type)) return { ok: false, error: t(allowPdf ? "err_type_any" : "err_type_image") };
  if (file.size > MAX_BYTES) return { ok: false, error: t("err_size") };
  if (type === "application/pdf") return { ok: true, type };
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return { ok: false, error: t("err_decode") };
  }
  const { width, height } = bitmap;
  if (Math.max(width, height) < MIN_LONG || Math.min(width, height) < MIN_SHORT) {
    bitmap.close();
    return { ok: false, type, width, height, error: t("err_resolution", { w: width, h: height }) };
  }
  let blur = null;
  try {
    blur = blurScore(bitmap);
  } catch {
    blur = null; // a hint only: never block on it
  }
  bitmap.close();
  const warning = blur !== null && blur < BLUR_THRESHOLD ? t("warn_blur") : "";
  return { ok: true, type, width, height, blur, warning };
}

async function digest(file) {
  if (!(crypto && crypto.subtle)) return null;
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
  let bin = "";
  for (const byte of hash) bin += String.fromCharCode(byte);
  return btoa(bin);
}

// ---------------------------------------------------------------------------------------
// File slots (front, back, proof): chooser, camera, preview, message, progress
// ---------------------------------------------------------------------------------------

const SLOT_KIND = { front: "idv", back: "idv", proof: "address" };

function slotEl(slot) {
  return $(`[data-file="${slot}"]`);
}

function slotMessage(slot, text, kind) {
  const msg = $("#msg-" + slot);
  msg.textContent = text || "";
  msg.hidden = !text;
  msg.className = "msg" + (kind ? " " + kind : "");
  const input = $("#file-" + slot);
  if (kind === "error") input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

async function takeFile(slot, file) {
  const wrap = slotEl(slot);
  const preview = $("img.preview", wrap);
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.hidden = true;
  preview.removeAttribute("src");
  $("progress", wrap).hidden = true;
  state.files[slot] = null;
  if (!file) {
    slotMessage(slot, "");
    return;
  }
  const res = await checkFile(file, slot === "proof");
  if (!res.ok) {
    slotMessage(slot, res.error, "error");
    announce(res.error);
    return;
  }
  state.files[slot] = { file, ...res };
  if (res.type !== "application/pdf") {
    preview.src = URL.createObjectURL(file);
    preview.alt = file.name;
    preview.hidden = false;
  }
  const ready =
    res.type === "application/pdf"
      ? t("file_pdf_ok", { name: file.name })
      : t("file_ok", { name: file.name, w: res.width, h: res.height });
  slotMessage(slot, res.warning ? `${ready} ${res.warning}` : ready, res.warning ? "warn" : "ok");
}

let cameraSlot = null;
let cameraStream = null;

function stopCamera() {
  if (cameraStream) for (const tr of cameraStream.getTracks()) tr.stop();
  cameraStream = null;
  const dlg = $("#camera");
  if (dlg.open) dlg.close();
  const opener = cameraSlot && $(`[data-camera="${cameraSlot}"]`);
  cameraSlot = null;
  if (opener) opener.focus();
}

async function startCamera(slot) {
  cameraSlot = slot;
  signals.expectBlur();
  try {
    cameraStream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1920 }, height: { ideal: 1080 } },
      audio: false,
    });
  } catch {
    slotMessage(slot, t("camera_failed"), "error");
    cameraSlot = null;
    return;
  }
  $("#camera-video").srcObject = cameraStream;
  $("#camera").showModal();
  $("#camera-take").focus();
}

function initSlots() {
  const canCamera = Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.isSecureContext);
  for (const slot of Object.keys(SLOT_KIND)) {
    const input = $("#file-" + slot);
    input.addEventListener("click", () => signals.expectBlur());
    input.addEventListener("change", () => takeFile(slot, input.files && input.files[0]));
    const cam = $(`[data-camera="${slot}"]`);
    // Proof of address is usually a PDF; the camera is offered for ID photos only.
    cam.hidden = !canCamera || slot === "proof";
    cam.addEventListener("click", () => startCamera(slot));
  }
  $("#camera-cancel").addEventListener("click", stopCamera);
  $("#camera").addEventListener("cancel", (e) => {
    e.preventDefault();
    stopCamera();
  });
  $("#camera-take").addEventListener("click", () => {
    const video = $("#camera-video");
    const slot = cameraSlot;
    if (!video.videoWidth || !slot) return;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob(
      (blob) => {
        stopCamera();
        if (blob) {
          // Clear the chooser so the slot holds exactly one photo: the camera's.
          $("#file-" + slot).value = "";
          takeFile(slot, new File([blob], `${slot}-camera.jpg`, { type: "image/jpeg" }));
        }
      },
      "image/jpeg",
      0.92,
    );
  });
}

// ---------------------------------------------------------------------------------------
// Documents: create (with checksums), upload straight to S3 with progress
// ---------------------------------------------------------------------------------------

function upload(slot, entry, file) {
  const wrap = slotEl(slot);
  const bar = $("progress", wrap);
  bar.hidden = false;
  bar.value = 0;
  let lastQuarter = -1;
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(entry.method || "PUT", entry.presigned_upload_url);
    for (const [name, value] of Object.entries(entry.headers || {})) {
      // The browser sets these itself and refuses to let a script do it.
      if (/^(content-length|host)$/i.test(name)) continue;
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const p = Math.round((e.loaded / e.total) * 100);
      bar.value = p;
      const text = t("uploading", { name: file.name, p });
      slotMessage(slot, text, "");
      // Screen readers hear every quarter, not every percent.
      const quarter = Math.floor(p / 25);
      if (quarter !== lastQuarter) {
        lastQuarter = quarter;
        announce(text);
      }
    };
    // 412: the object is already there (this very file, sent before a reload).
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300) || xhr.status === 412 ? resolve() : reject(new Error(`upload ${xhr.status}`));
    xhr.onerror = () => reject(new Error("upload network error"));
    xhr.ontimeout = () => reject(new Error("upload timeout"));
    xhr.send(file);
  }).then(() => {
    bar.value = 100;
    slotMessage(slot, t("uploaded", { name: file.name }), "ok");
    announce(t("uploaded", { name: file.name }));
  });
}

// A document is created once per set of files; coming back and changing a photo makes a new
// one, since a presigned URL accepts exactly one object.
function signature(slots) {
  return slots.map((s) => (state.files[s] ? `${s}:${state.files[s].file.name}:${state.files[s].file.size}:${state.files[s].file.lastModified}` : "")).join("|");
}

async function uploadDocument(kind, slots, formId) {
  const sig = signature(slots);
  const existing = state.docs[kind];
  // Same photos as last time (coming back from review, or after the other document asked
  // for a retry): already uploaded, maybe already submitted, nothing to send again.
  if (existing && existing.sig === sig && existing.uploaded) return;
  const chosen = slots.filter((s) => state.files[s]);
  const files = [];
  for (const slot of chosen) {
    const f = state.files[slot];
    const entry = { filename: f.file.name.slice(0, 255) || `${slot}.jpg`, content_type: f.type, byte_size: f.file.size };
    if (kind === "idv") entry.side = slot;
    const checksum = await digest(f.file);
    if (checksum) entry.checksum = checksum;
    files.push(entry);
  }
  const path = kind === "idv" ? "documents/idvs" : "documents/addresses";
  let doc;
  try {
    doc = await api("POST", path, {
      data: {
        type: kind === "idv" ? "document/idv" : "document/address",
        attributes: { files },
        relationships: { session: { data: { type: "session", id: state.sessionId } } },
      },
    });
  } catch (err) {
    if (err instanceof ApiError && err.status === 422) {
      // /data/attributes/files/N/... names the slot of the Nth file sent.
      let placed = false;
      for (const x of err.errors) {
        const m = /^\/data\/attributes\/files\/(\d+)/.exec((x.source && x.source.pointer) || "");
        if (m && chosen[Number(m[1])]) {
          slotMessage(chosen[Number(m[1])], x.detail || x.title, "error");
          placed = true;
        }
      }
      if (!placed) setSummary("err-" + formId, err.errors.map((x) => x.detail || x.title).join(" "));
      throw new Halt();
    }
    throw err;
  }
  state.docs[kind] = { id: doc.data.id, sig, uploaded: false, submitted: false };
  const metaFiles = (doc.meta && doc.meta.files) || [];
  const attrFiles = (doc.data.attributes && doc.data.attributes.files) || [];
  // Uploads run side by side: two photos on a phone connection take half the time.
  await Promise.all(
    chosen.map((slot, i) => {
      const id = attrFiles[i] && attrFiles[i].id;
      const entry = metaFiles.find((m) => m.id === id) || metaFiles[i];
      return upload(slot, entry, state.files[slot].file);
    }),
  );
  state.docs[kind].uploaded = true;
}

function initDocumentForms() {
  const handle = (formId, kind, slots, noneKey) => {
    const form = $("#form-" + formId);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      setSummary("err-" + formId, "");
      const bad = slots.find((s) => $("#msg-" + s).classList.contains("error"));
      if (bad) {
        $("#file-" + bad).focus();
        return setSummary("err-" + formId, t("err_summary"));
      }
      if (!slots.some((s) => state.files[s])) {
        setSummary("err-" + formId, t(noneKey));
        $("#file-" + slots[0]).focus();
        return;
      }
      busy(form, true);
      try {
        await uploadDocument(kind, slots, formId);
        next();
      } catch (err) {
        if (err instanceof Halt) return;
        setSummary("err-" + formId, err instanceof ApiError ? failureText(err) : t("err_upload"));
      } finally {
        busy(form, false);
      }
    });
  };
  handle("document", "idv", ["front", "back"], "err_doc_none");
  handle("address", "address", ["proof"], "err_address_none");
}

// ---------------------------------------------------------------------------------------
// Step: review and submit
// ---------------------------------------------------------------------------------------

function addRow(dl, label, value) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value || t("none");
  dl.append(dt, dd);
}

function fillReview() {
  const p = $("#review-personal");
  p.replaceChildren();
  addRow(p, t("r_name"), [val("first_name"), val("middle_name"), val("last_name")].filter(Boolean).join(" "));
  let birth = val("birth_date");
  try {
    birth = new Intl.DateTimeFormat(LANG, { dateStyle: "long", timeZone: "UTC" }).format(new Date(birth + "T00:00:00Z"));
  } catch {
    /* keep ISO */
  }
  addRow(p, t("r_birth"), birth);
  addRow(p, t("r_email"), val("email"));
  addRow(p, t("r_phone"), normalPhone(val("phone")));
  const country = $("#country_code").selectedOptions[0];
  addRow(
    p,
    t("r_address"),
    [val("line1"), val("line2"), [val("postal_code"), val("city")].filter(Boolean).join(" "), val("subdivision"), country && country.value ? country.text : ""]
      .filter(Boolean)
      .join(", "),
  );
  const d = $("#review-documents");
  d.replaceChildren();
  const name = (slot) => (state.files[slot] ? state.files[slot].file.name : "");
  addRow(d, t("r_front"), name("front"));
  addRow(d, t("r_back"), name("back"));
  if (state.steps.includes("address")) addRow(d, t("r_proof"), name("proof"));
}

async function submitAll() {
  const form = $("#form-review");
  setSummary("err-review", "");
  busy(form, true);
  announce(t("submitting"));
  try {
    if (!state.deviceSent) await sendDevice();
    // Proof of address first: the session completes once the ID verification passes, so
    // submitting the ID last lets its result decide after both documents were checked.
    const order = ["address", "idv"].filter((k) => state.docs[k] && !state.docs[k].submitted);
    const results = {};
    show("checking");
    for (const kind of order) {
      const path = (kind === "idv" ? "documents/idvs/" : "documents/addresses/") + state.docs[kind].id + "/submit";
      const res = await api("POST", path);
      state.docs[kind].submitted = true;
      results[kind] = res && res.meta && res.meta.verification;
      // A failed proof of address already decides the session, and an unreadable one is
      // asked for again first: the ID waits for either.
      if (results[kind] && results[kind].status !== "passed") break;
    }
    await waitForOutcome(results);
  } catch (err) {
    if (err instanceof Halt) return;
    // The session moved on meanwhile (expired, decided): show where it stands.
    if (err instanceof ApiError && err.status === 409 && (await refreshOutcome().catch((e) => e instanceof Halt))) return;
    show("review");
    setSummary("err-review", failureText(err));
  } finally {
    busy(form, false);
  }
}

function initReview() {
  $("#form-review").addEventListener("submit", (e) => {
    e.preventDefault();
    submitAll();
  });
  for (const b of $$("[data-goto]")) b.addEventListener("click", () => show(b.dataset.goto));
}

// ---------------------------------------------------------------------------------------
// Outcome: poll the session until it settles
// ---------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The newest verification of each type, from the session's relationships.
async function latestVerifications(session) {
  const refs = (session.relationships && session.relationships.verifications && session.relationships.verifications.data) || [];
  const out = {};
  for (const ref of refs) {
    const v = (await api("GET", "verifications/" + ref.id)).data;
    const kind = v.type === "verification/address" ? "address" : "idv";
    const prev = out[kind];
    if (!prev || String(v.attributes.created_at) >= String(prev.attributes.created_at)) out[kind] = v;
  }
  return out;
}

// Returns true once an outcome screen is shown.
async function settle(session, hint) {
  const status = session.attributes.status;
  if (["completed", "approved", "marked_for_review"].includes(status)) return show("done"), true;
  if (["failed", "declined"].includes(status)) return show("failed"), true;
  if (status === "expired") return expired(), true;
  if (status !== "pending") return false;
  let retry = Object.keys(hint || {}).filter((k) => hint[k] && hint[k].status === "requires_retry");
  if (!retry.length) {
    const latest = await latestVerifications(session);
    retry = Object.keys(latest).filter((k) => latest[k].attributes.status === "requires_retry");
  }
  if (retry.length) {
    askRetry(retry);
    return true;
  }
  return false;
}

async function waitForOutcome(results) {
  for (let i = 0; i < POLL_TRIES; i++) {
    const session = (await api("GET", "sessions/" + state.sessionId)).data;
    state.session = session;
    if (await settle(session, i === 0 ? results : null)) return;
    if (i === 10) $("#checking-p").textContent = t("still_checking");
    await sleep(POLL_MS);
  }
}

function askRetry(kinds) {
  $("#retry-p").textContent = kinds.map((k) => t(k === "address" ? "retry_address" : "retry_idv")).join(" ");
  for (const k of kinds) {
    // A new document replaces the unreadable one: its presigned URLs were single-use.
    delete state.docs[k];
    for (const slot of Object.keys(SLOT_KIND).filter((s) => SLOT_KIND[s] === k)) {
      $("#file-" + slot).value = "";
      takeFile(slot, null);
    }
  }
  const target = kinds.includes("idv") ? "document" : "address";
  $("#retry-btn").onclick = () => show(target);
  show("retry");
}

// Where a reloaded page (or a 409) should land for a session that moved on.
async function refreshOutcome() {
  const session = (await api("GET", "sessions/" + state.sessionId)).data;
  state.session = session;
  if (await settle(session)) return true;
  if (session.attributes.status === "pending") {
    show("checking");
    await waitForOutcome();
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Behaviour signals (API.md §6), measured from page load and sent once, with the device,
// right before the first document submit. Each is a cheap observation; none ever blocks
// the applicant or fails the flow.
// ---------------------------------------------------------------------------------------

const signals = (() => {
  const s = {
    copies: 0,
    pastes: 0,
    autofillStarts: 0,
    autofillCancels: 0,
    distractions: 0,
    devtools: false,
    debuggerPaused: false,
    keyTimes: [],
    intervals: [],
    pointerEvents: 0,
  };
  const FIELD = "input, textarea, select";
  const isField = (el) => el instanceof Element && el.matches(FIELD) && !["file", "checkbox", "radio"].includes(el.type);

  // Hesitation: gaps between keystrokes in form fields; a gap that spans the page being
  // hidden is a distraction, not hesitation, so it is dropped.
  let lastKey = null;
  let hiddenSinceLastKey = false;
  document.addEventListener(
    "keydown",
    (e) => {
      if (!isField(e.target)) return;
      const now = performance.now();
      if (lastKey !== null && !hiddenSinceLastKey) s.intervals.push(now - lastKey);
      lastKey = now;
      hiddenSinceLastKey = false;
    },
    true,
  );

  document.addEventListener("copy", () => s.copies++, true);
  document.addEventListener("cut", () => s.copies++, true);
  document.addEventListener("paste", () => s.pastes++, true);

  // Autofill: Chromium and Safari run the CSS animation named in app.css when a field
  // becomes (or stops being) :-webkit-autofill; Firefox fires input events with an
  // insertReplacementText type or none at all. A field counts once until it is cancelled.
  const filled = new WeakSet();
  const start = (el) => {
    if (!filled.has(el)) {
      filled.add(el);
      s.autofillStarts++;
    }
  };
  const cancel = (el) => {
    if (filled.has(el)) {
      filled.delete(el);
      s.autofillCancels++;
    }
  };
  document.addEventListener(
    "animationstart",
    (e) => {
      if (e.animationName === "idv-autofill-start") start(e.target);
      else if (e.animationName === "idv-autofill-cancel") cancel(e.target);
    },
    true,
  );
  document.addEventListener(
    "input",
    (e) => {
      const el = e.target;
      // Selects and date pickers fire plain input events on every ordinary change.
      if (!isField(el) || el.tagName === "SELECT" || el.type === "date") return;
      if (e.inputType === "insertReplacementText" || e.inputType === undefined) start(el);
      else if (filled.has(el) && /^delete/.test(e.inputType || "")) cancel(el);
    },
    true,
  );

  // Distraction: leaving the tab or the window. One episode counts once, whichever of
  // visibilitychange/blur comes first; the file chooser and camera prompt are not one.
  let away = false;
  let expectingBlur = false;
  const leave = () => {
    if (!away) {
      away = true;
      s.distractions++;
    }
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") {
      hiddenSinceLastKey = true;
      expectingBlur = false;
      leave();
    } else if (document.hasFocus()) away = false;
  });
  window.addEventListener("blur", () => {
    if (expectingBlur) return;
    leave();
  });
  window.addEventListener("focus", () => {
    expectingBlur = false;
    if (document.visibilityState === "visible") away = false;
  });

  for (const type of ["pointerdown", "mousemove", "touchstart"]) {
    window.addEventListener(type, () => s.pointerEvents++, { passive: true, capture: true });
  }

  // Devtools docked to a side or the bottom shrink the viewport in one direction only;
  // zoom and mobile toolbars change both or neither. Sampled, never polled tightly.
  // Debugger: a paused script delays this timer by seconds while the page is visible.
  let lastTick = performance.now();
  setInterval(() => {
    const now = performance.now();
    if (document.visibilityState === "visible" && now - lastTick > 3000 && !away) s.debuggerPaused = true;
    lastTick = now;
    if (window.outerWidth > 0 && window.outerHeight > 0) {
      const dw = window.outerWidth - window.innerWidth;
      const dh = window.outerHeight - window.innerHeight;
      // Browser chrome (tabs, address bar) accounts for up to ~200 px of height.
      if (dw >= 0 && dh >= 0 && (dw > 160) !== (dh > 200)) s.devtools = true;
    }
  }, 1000);

  const median = (xs) => {
    if (!xs.length) return 0;
    const a = [...xs].sort((x, y) => x - y);
    const m = a.length >> 1;
    return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
  };
  const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

  // Inconsistencies between what the UA string claims and what the browser reports.
  function uaSpoofCount() {
    const ua = navigator.userAgent || "";
    let n = 0;
    const d = navigator.userAgentData;
    if (d) {
      const brands = (d.brands || []).map((b) => b.brand).join(" ");
      if (/Chrom/.test(brands) && !/Chrom|Edg|OPR/.test(ua)) n++;
      const p = d.platform || "";
      const uaOs = /Android/.test(ua) ? "Android" : /Windows/.test(ua) ? "Windows" : /Mac OS X|Macintosh/.test(ua) ? "macOS" : /CrOS/.test(ua) ? "Chrome OS" : /Linux/.test(ua) ? "Linux" : "";
      if (p && uaOs && p !== uaOs) n++;
      if (typeof d.mobile === "boolean" && d.mobile !== /Mobile/.test(ua) && !/iPad/.test(ua)) n++;
    } else if (/Chrome\/\d/.test(ua) && !/Edg|OPR|CriOS|SamsungBrowser/.test(ua) && window.isSecureContext) {
      // Chromium has shipped userAgentData since 90; its absence means another engine.
      n++;
    }
    const plat = navigator.platform || "";
    if (/^Win/.test(plat) && !/Windows/.test(ua)) n++;
    if (/^Mac/.test(plat) && !/Mac OS X|Macintosh/.test(ua)) n++;
    if (/^Linux/.test(plat) && /Windows|Mac OS X/.test(ua)) n++;
    return n;
  }

  // Automation hints, each weighted by how rarely a real person shows it.
  function botScore(completion) {
    const ua = navigator.userAgent || "";
    let score = 0;
    if (navigator.webdriver === true) score += 90;
    if (/HeadlessChrome|PhantomJS|Puppeteer|Playwright/i.test(ua)) score += 40;
    if (!navigator.languages || navigator.languages.length === 0) score += 15;
    const mobile = /Mobile|Android|iPhone|iPad/.test(ua);
    if (!mobile && navigator.plugins && navigator.plugins.length === 0) score += 10;
    if (window.outerWidth === 0 || window.outerHeight === 0) score += 10;
    if (completion < 15) score += 15;
    // Machine typing: many keystrokes at an almost constant rhythm.
    const iv = s.intervals.filter((x) => x < 2000);
    if (iv.length >= 20) {
      const mean = iv.reduce((a, b) => a + b, 0) / iv.length;
      const sd = Math.sqrt(iv.reduce((a, b) => a + (b - mean) ** 2, 0) / iv.length);
      if (sd < 8) score += 15;
    }
    if (s.pointerEvents === 0 && s.intervals.length > 20 && !mobile) score += 5;
    return Math.min(100, score);
  }

  return {
    // A file chooser or camera prompt takes the focus away on purpose.
    expectBlur() {
      expectingBlur = true;
    },
    collect() {
      const completion = round(performance.now() / 1000, 1);
      const gaps = s.intervals;
      const long = gaps.filter((x) => x > 2000);
      const total = gaps.reduce((a, b) => a + b, 0);
      const hesitationMs = long.reduce((a, b) => a + b, 0);
      const bot = botScore(completion);
      const threat = navigator.webdriver === true || bot >= 70 ? "high" : bot >= 30 ? "medium" : "low";
      return {
        completion_time_seconds: completion,
        autofill_cancels: s.autofillCancels,
        autofill_starts: s.autofillStarts,
        bot_score: bot,
        threat_level: threat,
        shortcut_copies: s.copies,
        shortcut_pastes: s.pastes,
        distraction_events: s.distractions,
        devtools_open: s.devtools,
        debugger_attached: s.debuggerPaused,
        request_spoof_attempts: 0,
        user_agent_spoof_attempts: uaSpoofCount(),
        hesitation_baseline: round(median(gaps) / 1000, 3),
        hesitation_count: long.length,
        hesitation_percentage: total > 0 ? round(Math.min(100, (hesitationMs / total) * 100)) : 0,
        hesitation_time: round(hesitationMs / 1000),
      };
    },
  };
})();

async function sendDevice() {
  const ua = navigator.userAgent || "";
  try {
    await api("POST", "session-devices", {
      data: {
        type: "session_device",
        attributes: {
          user_agent: ua.slice(0, 1000),
          platform: "web",
          locale: (navigator.language || LANG).slice(0, 35),
          sdk_version: "capture-page/1",
          behavior_analysis: signals.collect(),
        },
        relationships: { session: { data: { type: "session", id: state.sessionId } } },
      },
    });
  } catch (err) {
    if (err instanceof Halt) throw err;
    // Signals are for the integrator's risk view; the applicant's submission goes on.
  }
  state.deviceSent = true;
  sessionStorage.setItem("idv.capture.device." + state.sessionId, "1");
}

// ---------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------

function readToken() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    const token = decodeURIComponent(m[1]);
    sessionStorage.setItem(TOKEN_KEY, token);
    // Out of the address bar (and so out of screenshots, shares and history).
    history.replaceState(null, "", location.pathname + location.search);
    return token;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

async function boot() {
  translatePage();
  initConsent();
  initPersonal();
  initSlots();
  initDocumentForms();
  initReview();
  for (const b of $$("[data-back]")) b.addEventListener("click", back);
  // Review is rebuilt whenever it is shown, from what the fields hold now.
  const review = $("#step-review");
  new MutationObserver(() => {
    if (!review.hidden) fillReview();
  }).observe(review, { attributes: true, attributeFilter: ["hidden"] });

  state.token = readToken();
  if (!state.token || !/^ct_/.test(state.token)) return expired();
  try {
    const tok = (await api("GET", "client-token")).data.attributes;
    state.sessionId = tok.session_id;
    state.steps = Array.isArray(tok.steps) && tok.steps.length ? tok.steps : ["idv"];
    state.deviceSent = sessionStorage.getItem("idv.capture.device." + state.sessionId) === "1";
    $("#consent-what").textContent = t(state.steps.includes("address") ? "consent_what_address" : "consent_what_idv");
    const session = (await api("GET", "sessions/" + state.sessionId)).data;
    state.session = session;
    prefillPersonal(session.attributes || {});
    if (!["created", "started"].includes(session.attributes.status)) {
      if (await refreshOutcome()) return;
    }
    show("consent");
  } catch (err) {
    if (err instanceof Halt) return;
    if (err instanceof ApiError && err.status === 404) return expired();
    $("#step-error p").textContent = failureText(err);
    show("error");
  }
}

boot();
